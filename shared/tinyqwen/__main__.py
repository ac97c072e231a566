"""``python -m tinyqwen``: the same as the ``tinyqwen`` console script (see ``tinyqwen.cli``)."""

from tinyqwen.cli import main

raise SystemExit(main())
