"""`course grade --reverify`: new verdicts from stored runs, with no notebook run again.

After the instructor changes a check, a message or a threshold in an assignment's spec, every stored run
(course.grading.evidence) is checked again by the current verifier: a sandboxed process that runs no student
code, given copies the coordinator extracts, and kept warm over a batch of students (TensorFlow and MNIST are
loaded once; nothing of one student is kept for the next). Batches run side by side while the coordinator puts
each student's new verdicts through nbgrader's pipeline, as any grade.

A student whose stored run cannot stand for a new one (none stored, unreadable, a submission changed since, the
notebook or the harness's calls changed) is run again in full, and the output says why.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from . import evidence
from .sandbox import PackageView, Sandbox, SandboxedProcess, SandboxSettings
from .verification import MAX_RECORD_BYTES, Verification
from .worker import Outcome, tensorflow_threads


def wait_watching(future: Future, stopping: threading.Event, student: str) -> None:
    from .cluster import GradingInterrupted

    while not stopping.is_set():
        if wait([future], timeout=0.5).done:
            return
    raise GradingInterrupted(student)

BATCH_SIZE = 50  # students per verifier process: its start (TensorFlow, MNIST: ~5 s) spread over them
SECONDS_PER_STUDENT = 60  # on top of the verifier's own timeout, for a batch


class Reverification:
    """Every stored run of ``students`` verified again, in batches on ``parallel`` processes, from ``start``."""

    def __init__(self, root: Path, assignment: str, config, mnist_file: str | None, parallel: int, digests: dict[str, str],
                 stopping: threading.Event):
        self.root, self.assignment, self.config, self.mnist_file = root, assignment, config, mnist_file
        self.stopping = stopping  # Ctrl-C: waiting students give up, running verifiers are stopped
        self._running: set[SandboxedProcess] = set()
        self.digests, self.parallel = digests, max(1, parallel)
        self.reasons: dict[tuple[str, str], str] = {}  # (student, notebook) -> why it is run again
        self._stored: dict[tuple[str, str], evidence.Evidence] = {}
        self._futures: dict[tuple[str, str], Future] = {}
        self._job: dict[tuple[str, str], str] = {}  # its folder in its batch's inbox
        self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="reverify")
        self.how: dict[str, str] = {}  # student -> what was done, for the console
        self._lock = threading.Lock()

    def start(self, students: list[str], notebooks: list[str]) -> None:
        """Verify every stored run of ``students`` in the background, batch by batch in this order."""
        items = [(student, notebook) for student in students for notebook in notebooks]
        for index, item in enumerate(items):
            self._job[item] = f"job{index:05d}"
        for first in range(0, len(items), BATCH_SIZE):
            batch = items[first:first + BATCH_SIZE]
            future = self._pool.submit(self._verify_batch, batch)
            for item in batch:
                self._futures[item] = future

    def _read(self, item: tuple[str, str], inbox: Path) -> bool:
        """Read and check one stored run, and extract its verifier inputs to ``inbox``; False (and the reason) if
        it cannot stand for a new run."""
        student, notebook = item
        try:
            stored = evidence.read(evidence.path_for(self.root, self.assignment, student, notebook))
            if stored.run.get("submission") != self.digests.get(student):
                raise evidence.EvidenceProblem("the submission changed since it was graded")
            stored.extract_inputs(inbox / self._job[item])
        except (evidence.EvidenceProblem, OSError) as problem:
            self.reasons[item] = str(problem)
            return False
        self._stored[item] = stored
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.stopping.is_set():
            for process in list(self._running):
                process.process.kill()
        self._pool.shutdown(wait=True)

    def _verify_batch(self, batch: list[tuple[str, str]]) -> dict[str, dict]:
        """{job: record} of one verifier process; a job missing from it is run again (its reason is the batch's)."""
        inbox = Path(tempfile.mkdtemp(prefix="course-reverify-"))
        settings = SandboxSettings.from_config(Sandbox(config=self.config), self.mnist_file)
        try:
            jobs, home = {}, inbox / "home"
            home.mkdir()
            (inbox / "in").mkdir()
            for item in batch:
                if self._read(item, inbox / "in"):
                    jobs[self._job[item]] = {"errors_before": self._stored[item].errors_before}
            if not jobs:
                return {}
            (inbox / "in" / "jobs.json").write_text(json.dumps(jobs))
            timeout = Verification(config=self.config).verifier_timeout + SECONDS_PER_STUDENT * len(jobs)
            process = SandboxedProcess(
                settings, ["course.grading.verify", "--batch", self.assignment, str(inbox / "in")], home,
                PackageView.GRADER, timeout, readable=(inbox / "in",), env=tensorflow_threads(1),
                max_output_bytes=MAX_RECORD_BYTES * len(batch),
            )
            self._running.add(process)
            try:
                status, output = process.wait()
            finally:
                self._running.discard(process)
            try:
                records = json.loads(output)["records"]
                if not isinstance(records, dict):
                    raise ValueError("not a mapping")
            except (ValueError, KeyError, TypeError):
                why = f"ran out of time ({timeout} s)" if status is None else f"stopped (exit status {status})"
                records = {}
                for item in batch:
                    self.reasons.setdefault(item, f"the verifier of its batch {why} without verdicts")
            return records
        finally:
            settings.cleanup()
            shutil.rmtree(inbox, ignore_errors=True)

    def outcome(self, student: str, notebook: str, key: str, job_id: str) -> Outcome | None:
        """The stored run with new verdicts, or None (and ``how`` says why) when it must be run again."""
        item = (student, notebook)
        try:
            if item in self._futures:
                wait_watching(self._futures[item], self.stopping, student)
            records = self._futures[item].result() if item in self._futures else {}
        except Exception as error:  # noqa: BLE001 - the grader's fault on this batch: run its students again
            self.reasons.setdefault(item, f"its batch could not be verified ({type(error).__name__}: {error})")
            records = {}
        stored = self._stored.get(item)
        if stored is not None and stored.run.get("key") != key:
            self.reasons[item] = "the notebook as graded, or the harness's calls, changed since its stored run"
        record = records.get(self._job.get(item)) if item not in self.reasons else None
        if not isinstance(record, dict) or not isinstance(record.get("verdicts"), dict):
            reason = self.reasons.get(item, "its stored run was not verified")
            with self._lock:
                self.how[student] = f"run again: {reason}"
            return None
        run = stored.run
        for name in evidence.RUN_FIELDS:
            if name in run:
                record[name] = run[name]
        with self._lock:
            self.how.setdefault(student, "re-verified from its stored run, not run again")
        return Outcome(job_id, stored.executed_notebook, record, "re-verified", 0.0, 0)
