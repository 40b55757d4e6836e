"""Background processing of queued CSV jobs, honouring the configurable delay in sandbox time."""

from __future__ import annotations

import logging
import threading
from collections import deque

from .imports import ImportJob, ImportRunner
from .store import Store

log = logging.getLogger(__name__)


class JobWorker:
    """One daemon thread that runs queued jobs in FIFO order once their `ready_at` has come."""

    def __init__(self, store: Store):
        self.store = store
        self.runner = ImportRunner(store)
        self.queue: deque[ImportJob] = deque()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, job: ImportJob) -> None:
        """Queue a job (caller holds the store lock) and wake the thread."""
        self.queue.append(job)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="haihai-jobs", daemon=True)
            self._thread.start()
        self.store.wakeup.notify_all()

    def clear(self) -> None:
        """Drop every queued job (caller holds the store lock)."""
        self.queue.clear()

    def stop(self) -> None:
        """End the thread after its current job."""
        with self.store.lock:
            self._stopped = True
            self.store.wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_now(self, account_key: str | None = None) -> list[ImportJob]:
        """Run every queued job (of one account) at once, ignoring the delay; return them."""
        with self.store.lock:
            chosen = [
                job
                for job in self.queue
                if account_key is None or job.account.account_key == account_key
            ]
            for job in chosen:
                self.queue.remove(job)
        for job in chosen:
            self._run(job)
        return chosen

    def _loop(self) -> None:
        store = self.store
        while True:
            with store.lock:
                job = None
                while job is None:
                    if self._stopped:
                        return
                    if self.queue and self.queue[0].ready_at <= store.clock.now():
                        job = self.queue.popleft()
                        break
                    store.wakeup.wait(self._wait_time())
            self._run(job)

    def _wait_time(self) -> float:
        if not self.queue or self.store.clock.frozen:
            # Woken by submit, clock changes and resets; the timeout is only a safety net.
            return 1.0
        return max(0.01, min(1.0, self.queue[0].ready_at - self.store.clock.now()))

    def _run(self, job: ImportJob) -> None:
        try:
            self.runner.run(job)
        except Exception:  # noqa: BLE001 - a broken job must not kill the worker
            log.exception("import job failed job_id=%s", job.job_id)
            with self.store.lock:
                job.state = "failed"
                job.message = "内部エラーが発生しました"
                job.finished_at = self.store.now()
