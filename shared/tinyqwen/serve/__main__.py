"""`python -m tinyqwen.serve --model SPEC`: the same as `tinyqwen serve`."""

from tinyqwen.serve.cli import main

raise SystemExit(main())
