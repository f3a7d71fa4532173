"""``python -m ftm_assets.run``: see ``ftm_assets.run.cli``."""

from ftm_assets.run.cli import exit_process, main

exit_process(main())
