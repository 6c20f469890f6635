"""The analysis wing: result.json files in, tables, statistics, figures and REPORT.md out.

It reads only result files (through harness.runs.results.read_result) and never imports the
trainer or JAX: collect -> studies (one module each, registered by name) -> report.
"""
