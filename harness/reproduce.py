"""`python -m harness.reproduce`: the entry point in harness/cli/reproduce.py."""

import sys

from harness.cli.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
