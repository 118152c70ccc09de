"""`python -m govsvc` runs the `govsvc` command."""

import sys

from govsvc.cli import main

sys.exit(main())
