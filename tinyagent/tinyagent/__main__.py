"""``python -m tinyagent``: see ``tinyagent.cli``."""

from tinyagent.cli import main

raise SystemExit(main())
