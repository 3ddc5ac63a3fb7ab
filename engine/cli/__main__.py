"""``python -m engine.cli``: the same command line as ``hearth-cli``."""

import sys

from engine.cli import main

sys.exit(main())
