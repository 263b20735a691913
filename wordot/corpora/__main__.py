"""``python -m wordot.corpora``, the same as ``python -m wordot corpora``."""

import sys

from .cli import main

sys.exit(main())
