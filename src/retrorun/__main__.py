"""``python -m retrorun``."""

import sys

from retrorun.cli import main

sys.exit(main())
