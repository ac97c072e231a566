"""Running the app: the `tinyqwen serve` command (`main`) and `serve_in_background`.

    $ tinyqwen serve --model DIR --port 8000 --max-queue 64 --max-body-bytes 4194304
    >>> with serve_in_background(tinyqwen.connect("tiny-random")) as url:   # doctest: +SKIP
    ...     OpenAIChatModel(url).chat([{"role": "user", "content": "hi"}])

Both bind 127.0.0.1 unless told otherwise; `main` warns when told to bind another interface.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tinyqwen.connection import add_quantize_argument
from tinyqwen.serve import MISSING_SERVE_DEPS
from tinyqwen.serve.validation import DEFAULT_MAX_BODY_BYTES
from tinyqwen.serve.worker import DEFAULT_MAX_QUEUE

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _import_uvicorn() -> Any:
    """uvicorn, after checking that the `serve` extra is installed (FastAPI too)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise ImportError(f"{MISSING_SERVE_DEPS} ({e})") from e
    return uvicorn


@contextmanager
def serve_in_background(
    model: Any, host: str = "127.0.0.1", port: int = 0, **app_kwargs: Any
) -> Iterator[str]:
    """Run the server in a daemon thread (tests, notebooks, benches); yields the `/v1` base URL.

    `port=0` lets the OS pick a free port (no race between "find a free port" and binding it).
    `app_kwargs` go to `create_app` (`max_queue`, `max_body_bytes`, `api_key`, ...).
    """
    uvicorn = _import_uvicorn()
    from tinyqwen.serve.app import create_app

    app = create_app(model, **app_kwargs)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tinyqwen-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """`tinyqwen serve --model SPEC [--host 127.0.0.1] [--port 8000] ...`; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="tinyqwen serve", description="Serve a model over an OpenAI-compatible HTTP API."
    )
    parser.add_argument(
        "--model", default="tiny-random", help="checkpoint dir | tiny-random | tiny-universe | URL"
    )
    parser.add_argument("--adapter", default=None, help="PEFT LoRA adapter dir merged into --model")
    add_quantize_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default=None, help="model id clients must send")
    parser.add_argument("--max-batch-size", type=_positive, default=8)
    parser.add_argument(
        "--max-queue",
        type=_positive,
        default=DEFAULT_MAX_QUEUE,
        help="requests that may wait for the model; beyond, 429 with Retry-After",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest request body; beyond, 413 before the body is read",
    )
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    try:
        uvicorn = _import_uvicorn()
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import tinyqwen
    from tinyqwen.serve.app import create_app

    if args.host not in LOOPBACK:
        print(
            f"WARNING: binding {args.host}: the server is reachable from other machines"
            + (" and has no API key (--api-key)" if args.api_key is None else "")
            + ".",
            file=sys.stderr,
        )
    model = tinyqwen.connect(args.model, adapter=args.adapter, quantize=args.quantize)
    app = create_app(
        model,
        args.served_model_name,
        max_batch_size=args.max_batch_size,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        api_key=args.api_key,
    )
    if model.name == "tiny-random":
        from tinyqwen.tiny_random import TINY_RANDOM_NOTICE

        print(TINY_RANDOM_NOTICE, file=sys.stderr)
    served = args.served_model_name or model.name
    print(f"serving {served!r} at http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
