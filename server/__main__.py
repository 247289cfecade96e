"""`python -m server ...`: the same as the `jitc` console script."""

import sys

from server.cli import main

sys.exit(main())
