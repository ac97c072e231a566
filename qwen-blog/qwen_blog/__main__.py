"""``python -m qwen_blog`` entry point; see :mod:`qwen_blog.cli`."""

from qwen_blog.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
