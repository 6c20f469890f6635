"""Thin command-line entry points (`python -m harness.run`, `.report`, `.reproduce`, `.advise`)."""
