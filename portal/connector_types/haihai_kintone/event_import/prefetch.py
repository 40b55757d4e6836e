"""Reading ahead: iterate a slow source (配配メール pages) in a background thread while the caller
converts and writes what was already read."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_ITEMS, _ERROR, _END = "items", "error", "end"


class Prefetched(Generic[T]):
    """Items of `source` produced by one background thread, `depth` batches ahead.

    The source is used by that thread only (a client that is not thread-safe stays safe as long
    as nobody else uses it meanwhile). An error of the source is raised in the consumer at the
    point it occurred. `close()` stops the thread (call it when the consumer stops early).
    """

    def __init__(self, source: Iterable[T], *, batch: int = 500, depth: int = 8):
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._batch = batch
        self._thread = threading.Thread(
            target=self._produce, args=(source,), name="event-prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, message: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterable[T]) -> None:
        batch: list[T] = []
        try:
            for item in source:
                batch.append(item)
                if len(batch) >= self._batch:
                    if not self._put((_ITEMS, batch)):
                        return
                    batch = []
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            # What was read before the failure is delivered first.
            if not batch or self._put((_ITEMS, batch)):
                self._put((_ERROR, error))
            return
        if batch and not self._put((_ITEMS, batch)):
            return
        self._put((_END, None))

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == _ITEMS:
                yield from value
            elif kind == _ERROR:
                raise value
            else:
                return

    def close(self, timeout: float = 60.0) -> None:
        """Stop reading ahead and wait for the thread (it finishes its current call first)."""
        self._stop.set()
        self._thread.join(timeout)
