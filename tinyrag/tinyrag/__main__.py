"""``python -m tinyrag`` -> ``tinyrag.cli.main``."""

import sys

from tinyrag.cli import main

sys.exit(main())
