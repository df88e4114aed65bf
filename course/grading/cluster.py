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

import json
import uuid

from . import evidence
from .exceptions import GradingError
from .worker import Job, Outcome, execute

RESULT_POLL_S = 0.5
# Dask's background work that grading has no use for, with no dashboard to show it: the workers' statistical
# profiler (a stack sample every 10 ms), every server's event-loop health tick (every 20 ms), the system monitor
# (every 0.5 s) and the active memory manager (nothing to replicate: a task's only data is its result). Together
# 2.40 CPU-s of a local worker and the coordinator per 30 s of one submission, 1.29 without (benchmarks/dask_idle.py).
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.scheduler.active-memory-manager.start": False,
}


class GradingInterrupted(Exception):
    """The run was stopped (Ctrl-C) while this submission was executing; it is graded on the next run."""


class WorkerDiedError(RuntimeError):
    """Workers died while executing this submission, as many times as the scheduler allows."""


class GradingCluster:
    """The workers of one `course grade` run: ``start`` them, ``open`` for grading, ``close``."""

    def __init__(self, workers: int, scheduler: str | None, course_root: Path, tasks: int, task=execute):
        """``task``: what a worker does with a Job (course.grading.worker.execute; benchmarks give one that
        returns at once, to measure everything but the execution)."""
        self.workers, self.scheduler, self.course_root, self.tasks, self.task = workers, scheduler, course_root, tasks, task
        self.config: dict = {}
        self.context = ""
        self.mnist_file: str | None = None
        self.run_id = uuid.uuid4().hex  # in every task key: two runs, or two courses, on one scheduler never share one
        self.digests: dict[str, str] = {}  # student -> sha256 of the notebook bytes being graded (course.grade)
        self.gradebook_lock = threading.Lock()
        self.stopping = threading.Event()
        self.cluster = self.client = None
        self.outcomes: list[tuple[str, Outcome]] = []
        self.reverification = None  # course.grading.reverify.Reverification, for `course grade --reverify`
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None

    def __deepcopy__(self, memo):
        return self  # a handle on the run's workers, passed through nbgrader's config (which deep-copies values)

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
        import dask
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
            # QUIET_DASK: the scheduler reads it as it is made, and each worker's nanny hands it to its worker
            # (also to one it starts again after a crash)
            with dask.config.set(QUIET_DASK):
                self.cluster = LocalCluster(
                    n_workers=min(self.workers, self.tasks), threads_per_worker=1, processes=True, memory_limit=0,
                    dashboard_address=None, silence_logs=logging.CRITICAL, preload=["course.grading.worker"],
                )
                self.client = Client(self.cluster)

    def open(self, config: dict, mnist_file: str | None, tasks: int) -> GradingCluster:
        """Wait for the workers, then take ``tasks`` submissions, graded with ``config`` (the course's nbgrader
        config) and ``mnist_file`` (None: each worker resolves its own)."""
        self._starting.join()
        if self._start_error is not None:
            raise self._start_error
        self.config, self.mnist_file, self.tasks = config, mnist_file, tasks
        self.context = evidence.grading_context(config)  # in every run's key (course.grading.evidence)
        if self.cluster is not None and len(self.cluster.workers) > tasks:
            self.cluster.scale(tasks)  # submissions graded before keep their grade: fewer to grade than started
        self.slots_per_host = self._slots_per_host()
        return self

    def close(self) -> None:
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

    def address(self) -> str:
        """The scheduler's address: more coordinators of this run connect to it (course.grade.coordinate)."""
        return self.scheduler or self.client.scheduler.address

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
    def ungraded_sources(self, assignment: str, notebook_name: str) -> set[str]:
        """The sources of the source notebook's code cells that nbgrader does not mark (self-check calls)."""
        path = self.course_root / "source" / assignment / notebook_name
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError, KeyError):
            return set()
        return {
            ("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]).strip()
            for cell in cells if cell.get("cell_type") == "code" and not cell.get("metadata", {}).get("nbgrader")
        }

    def execute(self, student: str, assignment: str, notebook_name: str, notebook: str, answers: str) -> Outcome:
        """Called by ExecuteOnWorker while its thread holds the gradebook lock; releases it while the worker runs.

        The task's key names this run, the student and the hash of the bytes being graded; the outcome must carry
        the same key, or nothing of it is kept."""
        from course.spec import load

        digest = self.digests.get(student, "unknown")
        job_id = f"grade-{self.run_id}-{assignment}-{student}-{Path(notebook_name).stem}-{digest[:16]}"
        job = Job(job_id, student, assignment, notebook_name, notebook, answers, self.config, self.mnist_file,
                  self.slots_per_host)
        spec = load(assignment)
        key = evidence.run_key(notebook, answers, spec.harness_plan(), spec.kernel_exports(), self.context)
        self.gradebook_lock.release()
        try:
            if self.stopping.is_set():
                raise GradingInterrupted(student)
            outcome = self.reverification.outcome(student, notebook_name, key, job_id) if self.reverification else None
            if outcome is None:
                if self.stopping.is_set():
                    raise GradingInterrupted(student)
                outcome = self.run(job)
            if outcome.job_id != job_id:
                raise GradingError(f"a worker returned the result of {outcome.job_id} for {job_id}; nothing of it was kept")
            if outcome.evidence:  # kept for `course grade --reverify`; written without holding the gradebook
                run = {"key": key, "submission": digest, "worker": outcome.worker, "seconds": round(outcome.seconds, 2),
                       **{name: outcome.record[name] for name in evidence.RUN_FIELDS if name in outcome.record}}
                evidence.store(evidence.path_for(self.course_root, assignment, student, notebook_name),
                               outcome.evidence, outcome.notebook, run)
        finally:
            self.gradebook_lock.acquire()
        self.outcomes.append((student, outcome))
        return outcome

    def run(self, job: Job) -> Outcome:
        """``job`` done by ``self.task`` on a worker, waited for without the gradebook lock."""
        from distributed.scheduler import KilledWorker

        future = self.client.submit(self.task, job, key=job.job_id, pure=False)
        try:
            wait_watching(future, self.stopping, job.student)
            return future.result()
        except KilledWorker as error:
            raise WorkerDiedError(f"the workers grading it died ({error})") from None


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
