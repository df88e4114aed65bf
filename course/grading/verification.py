"""The harness and the verifier of one notebook, running beside its kernel on a grading worker.

Three folders the grader makes:
- ``harness/in``: the answers notebook (the setup cells and the cells the student could edit) and the plan of calls,
  read by the harness; ``harness/out``: where the harness (which runs student code) writes. The harness is forked
  beside the kernel in the kernel's sandbox (course.sandboxed.kernel_launcher), and neither folder is bound there:
  the harness alone holds them open, out of the kernel's reach;
- ``verifier/in``: copies the grader makes of what the harness and the notebook saved (``harness``,
  ``artifacts/<name>``), out of the kernel's and the harness's sight, read-only to the verifier, which runs no
  student code and answers on its stdout. On a Dask worker the verifier is a fresh child of the worker's warm
  verifier, and this folder is in that one's inbox (course.grading.warm_verifier).

What runs, and on what, is the assignment's spec (course.spec): the harness gets its calls as JSON, the verifier
loads the spec itself (it runs no student code).

The grader copies with ``untrusted_files.copy_tree``: regular files only, no link followed, bounded. So neither
student process can point the grader, or the verifier, at anything else.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from traitlets import Integer
from traitlets.config import Configurable

from course.sandboxed.artifacts import ARTIFACTS_DIR
from course.sandboxed.kernel_launcher import ANSWERS_FILE, PLAN_FILE

from .evidence import PREDICTIONS_FIELD, pack_inputs
from .sandbox import PackageView, SandboxedProcess, SandboxSettings
from .untrusted_files import copy_tree
from .warm_verifier import WarmVerifiers

# The harness and the verifier yield the CPU to the student's kernel, whose run is what grading waits for; they
# still get any core the kernel leaves idle (docs/benchmarks.md, issue 3).
HELPER_NICENESS = 10
MAX_RECORD_BYTES = 5_000_000


class Verification(Configurable):
    """Settings of the verification outside the kernel: c.Verification.<name> in nbgrader_config.py."""

    harness_timeout = Integer(300, help="Seconds the harness may take, all the student's functions together.").tag(config=True)
    verifier_timeout = Integer(600, help="Seconds the verifier may take after the notebook has ended.").tag(config=True)
    max_artifact_bytes = Integer(200_000_000, help="Bytes of saved outputs the grader copies for the verifier.").tag(config=True)


class HarnessBesideKernel:
    """The harness of one notebook as the kernel's launcher forks it (course.sandboxed.kernel_launcher): its time,
    and the three fds the launcher hands it alone: its input folder (ANSWERS_FILE, PLAN_FILE) and its output folder,
    open, and a pipe whose end tells the grader it has ended."""

    def __init__(self, inputs: Path, out: Path, seconds: int, niceness: int):
        in_fd, out_fd = (os.open(folder, os.O_RDONLY | os.O_DIRECTORY) for folder in (inputs, out))
        self._read_end, done_fd = os.pipe()
        self.pass_fds = (in_fd, out_fd, done_fd)
        self.arguments = ["--in-fd", str(in_fd), "--out-fd", str(out_fd), "--done-fd", str(done_fd),
                          "--seconds", str(seconds), "--niceness", str(niceness)]
        # its launcher kills it ``seconds`` after it starts; until the kernel has started, counted from now
        self._seconds, self._deadline = seconds, time.monotonic() + seconds + 5
        self._closing, self._waiting = threading.Lock(), threading.Lock()  # two: the wait lasts until the close
        self._ended: bool | None = None

    def kernel_started(self) -> None:
        """The kernel's launcher has the three fds now, or never will: the grader's own copies close."""
        with self._closing:
            for fd in self.pass_fds:
                os.close(fd)
            self.pass_fds = ()
            self._deadline = time.monotonic() + self._seconds + 5

    def wait(self) -> bool:
        """Until the harness has ended (True) or its time is up (False); at once after the first call."""
        with self._waiting:
            if self._ended is None:
                self._ended = self._wait_for_pipe_end()
                os.close(self._read_end)
            return self._ended

    def _wait_for_pipe_end(self) -> bool:
        # poll, not select: a worker grading many notebooks at once holds fds past select's limit of 1024. No event
        # asked for: only the hang-up of the last write end wakes it, so a harness that writes into the pipe (it
        # never needs to) neither ends the wait nor keeps the grader reading
        pipe = select.poll()
        pipe.register(self._read_end, 0)
        while (left := self._deadline - time.monotonic()) > 0:
            if pipe.poll(max(1, round(left * 1000))):
                return True
        return False


def _decoded_predictions(encoded) -> bytes:
    """The verifier's predictions as its record carries them (base64), or nothing where they are not that."""
    try:
        return base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except ValueError:
        return b""


class OutsideVerification:
    """Start with the kernel; ``artifact_saved`` when the notebook has saved an artifact; ``record`` at the end."""

    def __init__(self, settings: SandboxSettings, config: Verification, spec, answers: nbformat.NotebookNode,
                 kernel_workdir: Path, notebook_timeout: float, env: dict, warm_verifiers: WarmVerifiers | None = None):
        self.config, self.kernel_workdir, self.artifacts = config, kernel_workdir, [artifact.name for artifact in spec.artifacts]
        self.root = Path(tempfile.mkdtemp(prefix="course-verification-"))
        harness_in, self.harness_out = self.root / "harness" / "in", self.root / "harness" / "out"
        for folder in (harness_in, self.harness_out):
            folder.mkdir(parents=True)
        nbformat.write(answers, harness_in / ANSWERS_FILE)
        (harness_in / PLAN_FILE).write_text(json.dumps(spec.harness_plan()))
        # started by the kernel's launcher: the kernel_run.ResilientExecute that runs this notebook gets it
        self.harness = HarnessBesideKernel(harness_in, self.harness_out, config.harness_timeout, HELPER_NICENESS)
        verifier_timeout = config.harness_timeout + notebook_timeout + config.verifier_timeout
        self._warm_verifiers, self._warm = warm_verifiers, None
        if warm_verifiers is not None:  # a warm verifier of this worker's: a fresh child of it for this notebook
            self._warm = warm_verifiers.take(settings, env, HELPER_NICENESS)
            self.verifier = self._warm.job(spec.name, verifier_timeout)
            self.verifier_in = self.verifier.inputs
        else:
            self.verifier_in, verifier_home = self.root / "verifier" / "in", self.root / "verifier" / "home"
            for folder in (self.verifier_in, verifier_home):
                folder.mkdir(parents=True)
            self.verifier = SandboxedProcess(
                settings, ["course.grading.verify", spec.name, str(self.verifier_in)], verifier_home, PackageView.GRADER,
                verifier_timeout, HELPER_NICENESS, readable=(self.verifier_in,), env=env,
            )
        self.skipped: list[str] = []
        self.evidence = b""  # the verifier's inputs, packed by ``record`` (course.grading.evidence)
        self._saved = {name: threading.Event() for name in self.artifacts}
        self._errors_before = {name: False for name in self.artifacts}
        self._teller = threading.Thread(target=self._tell_verifier, daemon=True)
        self._teller.start()

    def _copy(self, base: Path, relative: str, target: Path) -> None:
        report = copy_tree(base, target, relative, max_files=50, max_bytes=self.config.max_artifact_bytes)
        self.skipped += report.skipped

    def _tell_verifier(self) -> None:
        # every line is said whatever happens: a warm verifier's child waits for each of them
        try:
            self.harness.wait()
            # what it wrote by then (its launcher kills a harness that runs out of time)
            self._copy(self.harness_out, "", self.verifier_in / "harness")
        finally:
            self.verifier.say("harness ended\n")
        for name in self.artifacts:
            try:
                # bounded, so that a notebook that never reaches the cell leaves no verifier waiting for ever
                self._saved[name].wait(timeout=self.verifier.timeout)
                self._copy(self.kernel_workdir, f"{ARTIFACTS_DIR}/{name}", self.verifier_in / "artifacts" / name)
            finally:
                self.verifier.say(json.dumps({"artifact": name, "errors before": self._errors_before[name]}) + "\n")

    def artifact_saved(self, name: str, errors_before: bool = False) -> None:
        """The kernel has saved artifact ``name``; ``errors_before``: a cell before it raised (training may not have run)."""
        if name in self._saved:
            self._errors_before[name] = errors_before
            self._saved[name].set()

    def record(self) -> dict:
        """After the notebook has run: the verifier's record, {"verdicts": {...}} and "error" if it could not verify;
        and ``evidence``, what it was given, to verify again without running the notebook."""
        try:
            for saved in self._saved.values():
                saved.set()  # the notebook has ended, whether or not it reached every artifact's cell
            self.harness.kernel_started()  # a kernel that never started leaves no harness to wait for
            self._teller.join()
            status, output = self.verifier.wait()
            record, failure = self._verifiers_record(status, output)
            # the verifier's predictions are kept with the stored run, not in the record; packed once, with them
            encoded = record.pop(PREDICTIONS_FIELD, None) if record is not None else None
            self.evidence = pack_inputs(self.verifier_in, self._errors_before, _decoded_predictions(encoded))
            if failure is not None:
                return failure
            if self.skipped:
                record["skipped_files"] = self.skipped[:20]
            return record
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._warm is not None:
                self.verifier.close()
                self._warm_verifiers.give_back(self._warm)

    def _verifiers_record(self, status: int | None, output: str) -> tuple[dict | None, dict | None]:
        """(the verifier's record, None), or (None, the record of a verifier that gave none)."""
        if status is None:
            return None, {"verdicts": {}, "error": f"the verifier took longer than {self.verifier.timeout} s"}
        try:
            record = json.loads(output[:MAX_RECORD_BYTES])
        except ValueError:
            return None, {"verdicts": {}, "error": f"the verifier stopped (exit status {status}) without a verdict"}
        if not isinstance(record, dict) or not isinstance(record.get("verdicts"), dict):
            return None, {"verdicts": {}, "error": "the verifier's answer was malformed"}
        return record, None
