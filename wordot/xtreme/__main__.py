"""``python -m wordot.xtreme``: see :func:`wordot.xtreme.cli.main`."""

import sys

from .cli import main

sys.exit(main())
