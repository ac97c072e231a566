"""The model worker of `tinyqwen serve`: one thread owns the model; requests queue and batch.

    >>> worker = ModelWorker(llm, max_batch_size=8, max_queue=64)      # doctest: +SKIP
    >>> job = Job("chat", (messages, None, False, None), Sampling(max_new_tokens=8), batch_key=key)  # doctest: +SKIP
    >>> worker.submit(job).result()                                     # doctest: +SKIP
    {'role': 'assistant', 'content': '...'}

The model is not thread-safe and there is one of it, so every request becomes a `Job` on a queue.
When the worker picks a job with a `batch_key`, it also takes every queued job with the same key
(same endpoint and sampling parameters) up to `max_batch_size`, keeps the others in arrival order,
and runs the batch as one `chat_batch` / `complete` / `embed` call. If a batched call fails, its
jobs are rerun one by one so one bad request fails alone. Streaming jobs run alone and hand each
text delta to a callback; they stop generating when their client goes away.

The queue is bounded: `submit` raises `QueueFull` once `max_queue` jobs wait (jobs being run do not
count), and the server answers 429 with `Retry-After`, so a flood of requests costs memory for at
most `max_queue` prompts instead of growing without limit.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from tinyqwen.sampling import Sampling

STREAM_END = object()
DEFAULT_MAX_QUEUE = 64


class QueueFull(Exception):
    """`max_queue` jobs are already waiting; the caller should retry later."""


@dataclass
class Job:
    kind: str  # "chat" | "complete" | "generate" | "embed" | "stream" | "call"
    args: Any  # kind-specific payload (see `_call_model`); "stream": a function returning deltas
    sampling: Sampling | None = None
    batch_key: tuple | None = None  # jobs with equal non-None keys may run as one batch
    future: Future = field(default_factory=Future)
    on_delta: Any = None  # stream: callable(str | STREAM_END | BaseException)
    cancelled: threading.Event = field(default_factory=threading.Event)


class ModelWorker:
    """One thread owns the model; requests queue up and compatible ones are batched."""

    def __init__(
        self, model: Any, max_batch_size: int = 8, max_queue: int = DEFAULT_MAX_QUEUE
    ) -> None:
        if max_batch_size < 1 or max_queue < 1:
            raise ValueError(
                f"max_batch_size and max_queue must be >= 1, got {max_batch_size}, {max_queue}"
            )
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._waiting = 0  # jobs submitted and not yet taken into a batch (queue + held)
        self._lock = threading.Lock()
        self._held: deque[Job] = deque()  # taken from the queue but not batchable with the last
        self.model_calls = 0  # batches run (a batch of 1 counts); reported by /health
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._run, name="tinyqwen-model", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Jobs submitted but not yet running (reported by /health)."""
        return self._waiting

    def submit(self, job: Job) -> Future:
        """Queue `job`; its future gets the result. Raises `QueueFull` beyond `max_queue`."""
        with self._lock:
            if self._waiting >= self.max_queue:
                raise QueueFull(f"{self._waiting} requests are already waiting")
            self._waiting += 1
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _next(self, block: bool) -> Job | None:
        if self._held:
            return self._held.popleft()
        return self._queue.get() if block else self._queue.get_nowait()

    def _run(self) -> None:
        while True:
            job = self._next(block=True)
            if job is None:
                return
            batch = [job]
            if job.batch_key is not None:
                skipped: list[Job] = []
                stop = False
                while len(batch) < self.max_batch_size:
                    try:
                        other = self._next(block=False)
                    except queue.Empty:
                        break
                    if other is None:  # shutdown requested: finish this batch first
                        stop = True
                        break
                    (batch if other.batch_key == job.batch_key else skipped).append(other)
                self._held.extendleft(reversed(skipped))  # keep arrival order for the rest
                if stop:
                    self._queue.put(None)
            with self._lock:
                self._waiting -= len(batch)
            self._execute(batch)

    def _execute(self, batch: list[Job]) -> None:
        self.model_calls += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        if batch[0].kind == "stream":
            self._stream(batch[0])
            return
        try:
            results = self._call_model(batch)
        except Exception as e:  # noqa: BLE001 - hand every failure to the waiting requests
            if len(batch) > 1:  # one bad request must not fail the others: run them one by one
                for j in batch:
                    self._execute([j])
                return
            batch[0].future.set_exception(e)
            return
        for j, r in zip(batch, results):
            j.future.set_result(r)

    def _call_model(self, batch: list[Job]) -> list[Any]:
        """One model call for the whole batch (its jobs share kind and sampling); a result per job."""
        job, model = batch[0], self.model
        if job.kind == "chat":  # args: (messages, tools, continue_final_message, enable_thinking)
            _, tools, cont, thinking = job.args  # the same for the whole batch (the batch key)
            kw = dict(tools=tools, sampling=job.sampling, continue_final_message=cont)
            if thinking is not None:  # only when asked: a model without the option never sees it
                kw["enable_thinking"] = thinking
            if len(batch) == 1:
                return [model.chat(job.args[0], **kw)]
            return model.chat_batch([j.args[0] for j in batch], **kw)
        if job.kind in ("complete", "generate"):  # args: prompts (a request may have several)
            prompts = [p for j in batch for p in j.args]
            if job.kind == "complete":  # text prompts -> texts
                outs = model.complete(prompts, sampling=job.sampling)
            else:  # token-id prompts -> Completions ("tokenizer" capability)
                outs = model.generate_ids(prompts, job.sampling)
            it = iter(outs)
            return [[next(it) for _ in j.args] for j in batch]
        if job.kind == "embed":  # args: (texts, pooling)
            emb = model.embed([t for j in batch for t in j.args[0]], pooling=job.args[1])  # [N, H]
            bounds = list(itertools.accumulate([0] + [len(j.args[0]) for j in batch]))
            return [emb[a:b] for a, b in zip(bounds, bounds[1:])]
        if job.kind == "call":  # args: a function of nothing (runs alone, on this thread)
            return [job.args()]
        raise RuntimeError(f"unknown job kind {job.kind!r}")  # pragma: no cover

    def _stream(self, job: Job) -> None:
        it: Iterator[str] | None = None
        if job.cancelled.is_set():  # its client went away while it waited in the queue
            job.on_delta(STREAM_END)
            job.future.set_result(None)
            return
        try:
            it = job.args()  # e.g. lambda: model.stream_chat(messages, sampling=...)
            for delta in it:
                if job.cancelled.is_set():  # client went away: stop generating
                    break
                job.on_delta(delta)
        except Exception as e:  # noqa: BLE001 - reported to the client as an SSE error event
            job.on_delta(e)
            job.future.set_result(None)
            return
        finally:
            if isinstance(it, Generator):  # closing it ends the generation loop at once
                it.close()
        job.on_delta(STREAM_END)
        job.future.set_result(None)
