"""``python -m tinyeval``: see ``tinyeval.cli``."""

from tinyeval.cli import main

raise SystemExit(main())
