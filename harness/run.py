"""`python -m harness.run`: the entry point in harness/cli/run.py."""

from harness.cli.run import cli

if __name__ == "__main__":
    cli()
