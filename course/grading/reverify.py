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

BATCH_SIZE = 100  # students per verifier process: its start (TensorFlow, MNIST: ~5 s) spread over them
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
            if stored.predictions:
                (inbox / evidence.PREDICTIONS_DIR).mkdir(exist_ok=True)
                (inbox / evidence.PREDICTIONS_DIR / f"{self._job[item]}.npz").write_bytes(stored.predictions)
        except (evidence.EvidenceProblem, OSError) as problem:
            self.reasons[item] = str(problem)
            return False
        self._stored[item] = stored
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.stopping.is_set():
            with self._lock:
                running = list(self._running)
            for process in running:
                process.process.kill()
        self._pool.shutdown(wait=True)

    def _verify_batch(self, batch: list[tuple[str, str]]) -> dict[str, dict]:
        """{job: record} of a verifier process over ``batch``; the jobs it did not reach get one more process, then
        are run again in full (with the reason)."""
        inbox = Path(tempfile.mkdtemp(prefix="course-reverify-"))
        try:
            (inbox / "in").mkdir()
            jobs = {}
            for item in batch:
                if self._read(item, inbox / "in"):
                    jobs[self._job[item]] = {"errors_before": self._stored[item].errors_before}
            records: dict[str, dict] = {}
            why = ""
            for _ in range(2):  # one more process for the jobs a stopped one did not reach
                left = {job: told for job, told in jobs.items() if job not in records}
                if not left or self.stopping.is_set():
                    break
                done, why = self._run_verifier(inbox, left)
                records.update(done)
            for item in batch:
                if item not in self.reasons and self._job[item] not in records:
                    self.reasons[item] = f"the verifier of its batch {why or 'was stopped'} before verifying it"
            return records
        finally:
            shutil.rmtree(inbox, ignore_errors=True)

    def _run_verifier(self, inbox: Path, jobs: dict) -> tuple[dict[str, dict], str]:
        """({job: record} of one sandboxed verifier process over ``jobs``, why it stopped early or "")."""
        (inbox / "in" / "jobs.json").write_text(json.dumps(jobs))
        home = Path(tempfile.mkdtemp(prefix="home-", dir=inbox))
        settings = SandboxSettings.from_config(Sandbox(config=self.config), self.mnist_file)
        timeout = Verification(config=self.config).verifier_timeout + SECONDS_PER_STUDENT * len(jobs)
        try:
            process = SandboxedProcess(
                settings, ["course.grading.verify", "--batch", self.assignment, str(inbox / "in")], home,
                PackageView.GRADER, timeout, readable=(inbox / "in",), env=tensorflow_threads(1),
                max_output_bytes=MAX_RECORD_BYTES * len(jobs),
            )
            with self._lock:
                self._running.add(process)
            try:
                status, output = process.wait()
            finally:
                with self._lock:
                    self._running.discard(process)
        finally:
            settings.cleanup()
        records = {}
        for line in output.decode(errors="replace").splitlines():
            try:
                answer = json.loads(line)
                if answer["job"] in jobs and isinstance(answer["record"], dict):
                    records[answer["job"]] = answer["record"]
            except (ValueError, KeyError, TypeError):
                continue
        why = "" if len(records) == len(jobs) else (
            f"ran out of time ({timeout} s)" if status is None else f"stopped (exit status {status})")
        return records, why

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
        if isinstance(record, dict) and record.get("error"):  # verified by nothing: its notebook is run again
            self.reasons[item] = f"its stored run could not be verified ({str(record['error'])[:200]})"
            record = None
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
