"""``python -m ftm_assets.run``: see ``ftm_assets.run.cli``."""

import sys

from ftm_assets.run.cli import main

sys.exit(main())
