"""``python -m tlcore``: the command line."""

import sys

from tlcore.cli import main

sys.exit(main())
