"""`python -m tinyqwen.serve --model SPEC`: the same as `tinyqwen serve` (one-line errors, exit 2)."""

from tinyqwen.errors import run_cli
from tinyqwen.serve.cli import main

raise SystemExit(run_cli(main))
