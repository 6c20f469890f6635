"""`python -m harness.report`: the entry point in harness/cli/report.py."""

import sys

from harness.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
