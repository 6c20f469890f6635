"""`python -m harness.advise`: the entry point in harness/cli/advise.py."""

from harness.cli.advise import cli

if __name__ == "__main__":
    cli()
