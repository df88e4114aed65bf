"""Verifiers kept warm on a grading worker: TensorFlow imported once per worker slot, not once per submission.

A fresh verifier per notebook spends about 4 CPU-seconds starting (TensorFlow, Keras, the grader's MNIST arrays)
for about 1 of verdicts (benchmarks/submission_cpu.py). A warm verifier (``python -m course.grading.verify --serve``)
starts once, in the same sandbox a fresh one gets, and forks a fresh child for each notebook: the child starts
with nothing of any student, and ends with its notebook. The parent never opens a student's file.

Each worker keeps its warm verifiers in ``WarmVerifiers``, a Dask worker plugin (``course.grading.worker``
registers it as a worker starts). A verifier serves one notebook at a time; one that runs out of time, stops, or
answers out of turn is killed and not used again, and one that has served ``RETIRE_AFTER`` notebooks is retired.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from .sandbox import PackageView, SandboxSettings, remove_cgroup, start_sandboxed

NAME = "course-warm-verifiers"
RETIRE_AFTER = 200  # notebooks per warm verifier: a fresh start now and then bounds whatever a process accumulates
MAX_LINE_BYTES = 5_000_000  # a record: a few KB when honest


class WarmVerifier:
    """One ``verify --serve`` process in its sandbox, with the inbox it reads each notebook's inputs from."""

    def __init__(self, settings: SandboxSettings, env: dict, niceness: int, key: str = ""):
        self.settings, self.key = settings, key
        self.folder = Path(tempfile.mkdtemp(prefix="course-warm-verifier-"))
        self.inbox, home = self.folder / "in", self.folder / "home"
        self.inbox.mkdir()
        home.mkdir()
        self.process, self.plan = start_sandboxed(
            settings, ["course.grading.verify", "--serve", str(self.inbox)], home, PackageView.GRADER, subprocess.PIPE,
            niceness, readable=(self.inbox,), env=env)
        self.served, self.healthy = 0, True
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="warm-verifier-out").start()

    def _read(self) -> None:
        try:
            while line := self.process.stdout.readline(MAX_LINE_BYTES + 1):
                self.lines.put(line)
        finally:
            self.lines.put(None)  # its output has ended: it has stopped

    def say(self, line: str) -> None:
        try:
            self.process.stdin.write(line.encode())
            self.process.stdin.flush()
        except (OSError, ValueError):
            self.healthy = False

    def job(self, assignment: str, timeout: float) -> WarmJob:
        self.served += 1
        return WarmJob(self, assignment, timeout)

    def close(self) -> None:
        self.healthy = False
        try:
            self.process.stdin.close()  # a waiting verifier ends on its own
            self.process.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            if self.plan is not None:
                remove_cgroup(self.plan.cgroup)
            self.settings.cleanup()
            shutil.rmtree(self.folder, ignore_errors=True)


class WarmJob:
    """One notebook on a warm verifier, used as ``SandboxedProcess`` is: ``say`` a line, ``wait`` for the record."""

    def __init__(self, verifier: WarmVerifier, assignment: str, timeout: float):
        self.verifier, self.timeout = verifier, timeout
        self.name = f"job-{uuid.uuid4().hex}"
        self.inputs = verifier.inbox / self.name
        self.inputs.mkdir()
        self.deadline = time.monotonic() + timeout
        verifier.say(json.dumps({"job": self.name, "assignment": assignment}) + "\n")

    def say(self, line: str) -> None:
        self.verifier.say(line)

    def wait(self) -> tuple[int | None, bytes]:
        """(0 when its child ended the job, the exit status of a verifier that stopped, or None when it ran out of
        time; the record line, or nothing)."""
        record = b""
        while True:
            try:
                line = self.verifier.lines.get(timeout=max(0.0, self.deadline - time.monotonic()))
            except queue.Empty:
                self.verifier.healthy = False
                return None, b""
            if line is None:
                self.verifier.healthy = False
                return self.verifier.process.poll() or -1, record
            if not line.endswith(b"\n"):  # longer than any record: not one
                self.verifier.healthy = False
                return -1, b""
            ended = _ended(line)
            if ended is None:
                record = line
                continue
            if ended != 0:
                return ended if isinstance(ended, int) else -1, record
            return 0, record

    def close(self) -> None:
        """Its inputs are removed (kept until then: the grader packs them as evidence after ``wait``)."""
        shutil.rmtree(self.inputs, ignore_errors=True)


def _ended(line: bytes):
    """The exit status in the verifier's ``{"ended": status}`` line; None for any other line."""
    try:
        answer = json.loads(line)
    except ValueError:
        return None
    if isinstance(answer, dict) and set(answer) == {"ended"}:
        return answer["ended"]
    return None


class WarmVerifiers(WorkerPlugin):
    """The warm verifiers of one Dask worker, kept between its tasks; each task takes one (``take``) for its
    notebook and gives it back (``give_back``). Verifiers of another sandbox setting are not mixed up."""

    name = NAME

    def __init__(self):
        self._idle: dict[str, list[WarmVerifier]] = {}
        self._lock = threading.Lock()

    def take(self, settings: SandboxSettings, env: dict, niceness: int) -> WarmVerifier:
        key = json.dumps([settings.bwrap, settings.mnist_file, settings.font_list, vars(settings.limits), env, niceness],
                         sort_keys=True)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            while idle:
                verifier = idle.pop()
                if verifier.healthy and verifier.process.poll() is None:
                    return verifier
                verifier.close()
        return WarmVerifier(replace(settings, cgroups=[]), env, niceness, key)  # the same settings; its cgroup its own

    def give_back(self, verifier: WarmVerifier) -> None:
        if not verifier.healthy or verifier.process.poll() is not None or verifier.served >= RETIRE_AFTER:
            verifier.close()
            return
        with self._lock:
            self._idle.setdefault(verifier.key, []).append(verifier)

    def teardown(self, worker=None) -> None:
        with self._lock:
            verifiers = [verifier for idle in self._idle.values() for verifier in idle]
            self._idle.clear()
        for verifier in verifiers:
            verifier.close()
