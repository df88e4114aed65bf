"""The Dask side of `course grade`: where submissions execute, and the one lock on the gradebook.

`course grade` runs nbgrader's autograde for several students at once, one thread each, in the coordinating
process. Every thread holds ``gradebook_lock`` except while its submission executes on a worker, so nbgrader's
own code (sanitizing, saving scores, late penalties) runs one student at a time and only this process writes the
gradebook: no "database is locked" on SQLite, whatever the number of workers.

Workers are a ``LocalCluster`` of single-threaded processes (the default), or those of a running scheduler
(``--scheduler tcp://HOST:PORT``). A task carries the submission's bytes and returns the executed notebook,
so workers need not share a filesystem with the coordinator. A worker that dies mid-task has its task re-run
elsewhere by the scheduler (up to ``distributed.scheduler.allowed-failures`` times), then the student is
reported as not graded.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path

from .worker import Job, Outcome, execute

_active: GradingCluster | None = None
RESULT_POLL_S = 0.5


class GradingInterrupted(Exception):
    """The run was stopped (Ctrl-C) while this submission was executing; it is graded on the next run."""


class WorkerDiedError(RuntimeError):
    """Workers died while executing this submission, as many times as the scheduler allows."""


def active_cluster() -> GradingCluster:
    if _active is None:
        raise RuntimeError("ExecuteOnWorker runs only inside `course grade` (course.grading.cluster.GradingCluster).")
    return _active


class GradingCluster:
    """The workers of one `course grade` run: ``start`` them, ``open`` for grading, ``close``."""

    def __init__(self, workers: int, scheduler: str | None, course_root: Path, tasks: int):
        self.workers, self.scheduler, self.course_root, self.tasks = workers, scheduler, course_root, tasks
        self.stage: list[str] = []
        self.config: dict = {}
        self.gradebook_lock = threading.Lock()
        self.stopping = threading.Event()
        self.cluster = self.client = None
        self.outcomes: list[tuple[str, Outcome]] = []
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the local workers (or connect to the scheduler) in the background: a local worker takes about
        two seconds to start and load nbgrader, which the coordinator spends loading its own."""
        self._starting = threading.Thread(target=self._start, name="start-workers", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        try:
            self._connect()
        except BaseException as error:  # raised again by open(), in the coordinator's thread
            self._start_error = error

    def _connect(self) -> None:
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except OSError as error:
                raise ConnectionError(f"Could not reach the Dask scheduler at {self.scheduler}: {error}") from None
            self.client.wait_for_workers(1, timeout=60)
        else:
            # memory_limit=0: the sandbox caps each kernel; Dask must not kill a worker for what its kernel uses.
            # preload: each worker loads what grading needs as it starts (course.grading.worker.dask_setup).
            self.cluster = LocalCluster(
                n_workers=min(self.workers, self.tasks), threads_per_worker=1, processes=True, memory_limit=0,
                dashboard_address=None, silence_logs=logging.CRITICAL, preload=["course.grading.worker"],
            )
            self.client = Client(self.cluster)

    def open(self, stage: list[str], config: dict, tasks: int) -> GradingCluster:
        """Wait for the workers, then take ``tasks`` submissions' execution stage (``stage``, with ``config``)."""
        global _active
        self._starting.join()
        if self._start_error is not None:
            raise self._start_error
        self.stage, self.config, self.tasks = stage, config, tasks
        if self.cluster is not None and len(self.cluster.workers) > tasks:
            self.cluster.scale(tasks)  # submissions graded before keep their grade: fewer to grade than started
        self.slots_per_host = self._slots_per_host()
        _active = self
        return self

    def close(self) -> None:
        global _active
        _active = None
        if self._starting is not None:
            self._starting.join()
        try:
            if self.client is not None:
                self.client.close(timeout=10)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=10)

    def _slots_per_host(self) -> dict[str, int]:
        """How many tasks each worker host runs at once; each of its kernels gets its cores / that many threads."""
        slots: Counter = Counter()
        for worker in self.client.scheduler_info(n_workers=-1)["workers"].values():
            slots[worker["host"]] += worker["nthreads"]
        return {host: min(count, self.tasks) for host, count in slots.items()}

    @property
    def slots(self) -> int:
        return sum(self.slots_per_host.values())

    def describe(self) -> str:
        count = min(len(self.client.scheduler_info(n_workers=-1)["workers"]), self.tasks)  # some may be retiring
        where = f"the Dask cluster at {self.scheduler}" if self.scheduler else "this machine"
        return f"{count} worker(s) on {where}"

    def stop(self) -> None:
        """Ctrl-C: every waiting thread gives up its submission (nbgrader then removes its partial work)."""
        self.stopping.set()

    # --- one notebook --------------------------------------------------------------------------
    def execute(self, student: str, assignment: str, notebook_name: str, notebook: str, files: dict[str, bytes]) -> Outcome:
        """Called by ExecuteOnWorker while its thread holds the gradebook lock; releases it while the worker runs."""
        job = Job(student, assignment, notebook_name, notebook, files, self.stage, self.config,
                  str(self.course_root), self.slots_per_host)
        from distributed.scheduler import KilledWorker

        self.gradebook_lock.release()
        try:
            if self.stopping.is_set():
                raise GradingInterrupted(student)
            future = self.client.submit(execute, job, key=f"grade-{assignment}-{student}-{Path(notebook_name).stem}", pure=False)
            try:
                wait_watching(future, self.stopping, student)
                outcome = future.result()
            except KilledWorker as error:
                raise WorkerDiedError(f"the workers grading it died ({error})") from None
        finally:
            self.gradebook_lock.acquire()
        self.outcomes.append((student, outcome))
        return outcome


def wait_watching(future, stopping: threading.Event, student: str) -> None:
    """Block until the Dask future is done, cancelling it if Ctrl-C sets `stopping` meanwhile.

    Never `future.result(timeout=...)`: distributed's sync() can then lose the race between its timeout and
    the result and raise UnboundLocalError ('result') instead of either (dask/distributed#8514), which
    failed a whole grade run. A done-callback plus an Event has no such race.
    """
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    while not done.wait(RESULT_POLL_S):
        if stopping.is_set():
            future.cancel()
            raise GradingInterrupted(student)
