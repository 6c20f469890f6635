"""`python -m harness.law`: the entry point in harness/cli/law.py."""

import sys

from harness.cli.law import main

if __name__ == "__main__":
    sys.exit(main())
