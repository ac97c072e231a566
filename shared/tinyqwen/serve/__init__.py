"""`tinyqwen serve`: an OpenAI-compatible HTTP server in front of any `ChatModel`.

    $ tinyqwen serve --model tiny-random --port 8000          # binds 127.0.0.1 unless told otherwise
    $ curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
        -d '{"model": "tiny-random", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}'

or from Python:

    >>> from tinyqwen.serve import serve_in_background                  # doctest: +SKIP
    >>> with serve_in_background(tinyqwen.connect("tiny-random")) as url:  # doctest: +SKIP
    ...     tinyqwen.connect(url).chat([{"role": "user", "content": "hi"}])

Which file for which concept (read in this order):

- `validation.py`: an OpenAI request body -> checked values, or an `APIError` (OpenAI's error body)
- `tokens.py`: token counts for `usage` and context checks; token-exact `logprobs`
- `worker.py`: the one thread that owns the model; a bounded queue; batching of compatible requests
- `app.py`: the endpoints (module-level functions over a `ServerState`), body-size limit, error
  handlers, `create_app`
- `cli.py`: `tinyqwen serve` (`main`) and `serve_in_background` (tests, notebooks, benches)

Needs the optional extra `serve` (FastAPI + uvicorn); importing this package does not import them.
"""

from __future__ import annotations

import importlib
from typing import Any

MISSING_SERVE_DEPS = (
    "tinyqwen serve needs FastAPI and uvicorn, which are the optional extra 'serve': "
    "pip install 'tinyqwen[serve]'  (or: pip install fastapi uvicorn)"
)

# public name -> module that defines it (imported on first use: FastAPI is optional)
_EXPORTS = {
    "create_app": "tinyqwen.serve.app",
    "ServerState": "tinyqwen.serve.app",
    "serve_in_background": "tinyqwen.serve.cli",
    "main": "tinyqwen.serve.cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tinyqwen.serve' has no attribute {name!r}")
