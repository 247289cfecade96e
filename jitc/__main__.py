"""`python -m jitc ...`: the same as the `jitc` console script."""

import sys

from jitc.commands import main

sys.exit(main())
