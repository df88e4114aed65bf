"""What a grading worker does with one submission: execute it and verify it, touching no gradebook.

`course grade` (the coordinator) runs nbgrader's autograde itself, and at its execution step
(course.grading.preprocessors.ExecuteOnWorker) ships the sanitized notebook here as data: only the notebook
crosses, and workers need no filesystem in common with the coordinator. The worker runs it in a sandboxed kernel
in a private folder, with the harness and the verifier beside it (course.grading.verification), and returns the
executed notebook and the verification record, as data; the coordinator writes the gradebook.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from course.sandboxed.kernel_launcher import LAUNCHER_NAME

from . import quick_imports  # noqa: F401  (before nbgrader, which imports nbformat)
from .exceptions import SandboxUnavailableError, WorkerNotReadyError

MNIST_CACHE = Path.home() / ".cache" / "mnist-cnn-course"  # uncompressed_mnist's copies


EXPORT_MARK = "course_artifact_export"


@dataclass
class Job:
    """One notebook of one submission, as a grading worker gets it: data only, no path of the coordinator's."""

    job_id: str  # course, assignment, student and the hash of the exact bytes graded (see course.grade)
    student: str
    assignment: str
    notebook_name: str
    notebook: str  # the sanitized notebook, hidden tests replaced, as JSON
    answers: str  # the cells the harness runs (setup cells and the student's own), as a notebook in JSON
    config: dict  # the course's nbgrader config (traitlets Config)
    mnist_file: str | None  # resolved by the coordinator; None: resolve it on the worker
    slots_per_host: dict[str, int] = field(default_factory=dict)  # worker host -> tasks it runs at once


@dataclass
class Outcome:
    job_id: str
    notebook: str
    record: dict  # the verifier's verdicts ("error" when it could not verify), and why execution stopped
    worker: str
    seconds: float
    peak_memory_bytes: int  # the worker process and everything it started (kernel, harness, verifier)
    evidence: bytes = b""  # the verifier's inputs, packed (course.grading.evidence): kept by the coordinator


def _worker_host() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # not on a Dask worker (a direct call)
        return "local"


def check_ready(config, mnist_file: str | None) -> str:
    """The MNIST file this worker's sandboxes read (resolved here when the coordinator could not), or
    WorkerNotReadyError saying what to fix on which worker."""
    from course.student.data import MnistLoadError

    from .sandbox import Sandbox, find_bwrap

    sandbox = Sandbox(config=config)
    if sandbox.enabled:
        try:
            find_bwrap(sandbox.bwrap)
        except SandboxUnavailableError as error:
            raise WorkerNotReadyError(f"worker {_worker_host()}: {error}") from None
    try:
        return validated_mnist_file(mnist_file if mnist_file and os.path.isfile(mnist_file) else None)
    except MnistLoadError as error:
        raise WorkerNotReadyError(f"worker {_worker_host()} has no MNIST file: {error}") from None


def validated_mnist_file(path: str | None) -> str:
    """``resolve_mnist_file(path)``, read and checked whole once per worker process for as long as the file found
    keeps its size and modification time: checking decompresses all of MNIST, 0.25-0.5 CPU-s that every
    submission paid again. A file that fails is checked again next time, and reported each time."""
    from course.student.data import locate_mnist_file, resolve_mnist_file

    found, _ = locate_mnist_file(path)
    try:
        identity = file_identity(found)
    except OSError:  # resolve_mnist_file names the file and says what is wrong with it
        return str(resolve_mnist_file(path))
    return _checked_mnist_file(path, identity)


def file_identity(path: str | os.PathLike) -> tuple[str, int, int]:
    """(real path, size, modification time): what tells a file from the one that replaced it, without reading it."""
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _checked_mnist_file(path: str | None, identity: tuple[str, int, int]) -> str:
    """The found file's identity is in the key, so that a file replaced since is read and checked again."""
    from course.student.data import resolve_mnist_file

    return str(resolve_mnist_file(path))


def uncompressed_mnist(source: str) -> str:
    """An uncompressed copy of the MNIST file ``source``, for this worker's sandboxes (or ``source`` itself).

    The same arrays, read in 0.05 s instead of decompressed in 0.5 s, about six times per submission. The copy is
    made once per machine and file, in ~/.cache/mnist-cnn-course/; the loader validates it like any other.
    """
    from course.student.data import MnistLoadError, load_mnist

    if Path(source).parent == MNIST_CACHE:
        return source
    key = hashlib.sha256("\0".join(map(str, file_identity(source))).encode()).hexdigest()[:16]
    copy = MNIST_CACHE / f"mnist-{key}.npz"
    if not copy.is_file():
        try:
            (x_train, y_train), (x_test, y_test) = load_mnist(source)
            MNIST_CACHE.mkdir(parents=True, exist_ok=True)
            partial = copy.with_name(f"{copy.stem}.{os.getpid()}.partial.npz")  # renamed: other workers see all or nothing
            np.savez(partial, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
            os.replace(partial, copy)
        except (MnistLoadError, OSError):
            return source  # the original file it is, then: a bad one is reported by the kernels, naming it
    return str(copy)


async def dask_setup(worker) -> None:
    """Dask's preload hook (``LocalCluster(preload=["course.grading.worker"])``, ``dask worker --preload
    course.grading.worker``), run as a worker starts.

    Ctrl-C is for the coordinator, which stops the workers in order; a worker that took it would die with a
    traceback. A second of imports (nbgrader, nbclient, jupyter_client) is done before the first task comes. And
    the worker keeps its verifiers warm from one task to the next (course.grading.warm_verifier).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import kernel_run, verification  # noqa: F401  (and with them nbgrader, nbclient, nbformat, jupyter_client)
    from .warm_verifier import WarmVerifiers

    await worker.plugin_add(WarmVerifiers())


def _warm_verifiers():
    """This Dask worker's warm verifiers; None when not on a worker started with ``dask_setup`` (a direct call)."""
    try:
        from distributed import get_worker

        from .warm_verifier import NAME

        return get_worker().plugins.get(NAME)
    except ValueError:
        return None


def kernel_threads(cores: int, slots: int) -> int:
    """TensorFlow intra-op threads of each kernel on a host with ``cores`` running ``slots`` submissions at once."""
    return max(1, (cores - 1) // slots)


def tensorflow_threads(intra_op: int) -> dict[str, str]:
    """The environment that gives a kernel ``intra_op`` TensorFlow threads and one op at a time."""
    return {"TF_NUM_INTRAOP_THREADS": str(intra_op), "TF_NUM_INTEROP_THREADS": "1"}


class PeakMemory:
    """Samples the resident memory of this process and its descendants, twice a second.

    A kernel's launcher is left out: it only imported what the kernel and the harness it forked share with it, so
    its pages are theirs, counted in them (course.sandboxed.kernel_launcher).
    """

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        me = psutil.Process()
        while not self._stop.wait(0.5):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    if process.name() != LAUNCHER_NAME:
                        total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def execute(job: Job) -> Outcome:
    """Run one notebook of one submission in its sandboxed kernel, with the harness and the verifier beside it
    (the Dask task). Everything returned is data: the coordinator checks it belongs to ``job`` before saving it."""
    import nbformat
    from nbformat.v4 import new_code_cell
    from traitlets.config import Config

    from course.sandboxed.artifacts import export_code
    from course.spec import load

    from .kernel_run import ResilientExecute
    from .sandbox import Sandbox, SandboxSettings
    from .verification import OutsideVerification, Verification

    started = time.perf_counter()
    config = Config(job.config)
    mnist_file = uncompressed_mnist(check_ready(config, job.mnist_file))
    settings = SandboxSettings.from_config(Sandbox(config=config), mnist_file)
    host = _worker_host()
    slots = job.slots_per_host.get(host.partition("://")[2].rpartition(":")[0]) or 1
    # One core is left to the harness, the verifier and the coordinator, and the kernels at once share the rest,
    # so they do not fight over this host's cores; one op at a time, as this network is too small for parallel ops
    # to pay (benchmarks/kernel_threads.py: one thread beats TensorFlow's default)
    env = tensorflow_threads(kernel_threads(os.cpu_count() or 1, slots))
    verification_config = Verification(config=config)
    spec = load(job.assignment)
    exports = spec.kernel_exports()
    with tempfile.TemporaryDirectory(prefix="course-job-") as tmp, PeakMemory() as memory:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        nb = nbformat.reads(job.notebook, as_version=4)
        executor = ResilientExecute(settings, env, config=config)
        verification = OutsideVerification(settings, verification_config, spec, nbformat.reads(job.answers, as_version=4),
                                           workdir, executor.notebook_timeout, env, _warm_verifiers())
        executor.harness = verification.harness
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            artifact = exports.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            if artifact:
                export = new_code_cell(export_code(artifact["name"], artifact["model"]))
                export.metadata[EXPORT_MARK] = artifact["name"]
                cells.append(export)
        nb.cells = cells
        def after_cell(cell, index):
            if EXPORT_MARK in cell.metadata:
                errors = any(output.output_type == "error" for earlier in nb.cells[:index] for output in earlier.get("outputs", []))
                verification.artifact_saved(cell.metadata[EXPORT_MARK], errors_before=errors)

        executor.after_cell = after_cell
        name = Path(job.notebook_name).stem
        resources = {"metadata": {"path": str(workdir), "name": name}, "unique_key": name}
        try:
            nb, resources = executor.preprocess(nb, resources)
        finally:
            record = verification.record()
            settings.cleanup()
        nb.cells = [cell for cell in nb.cells if EXPORT_MARK not in cell.metadata]
        record["stopped"] = executor.stopped_because
        record["executed"] = executor.executed
        record["sandboxed"] = bool(settings.bwrap)
        notebook = nbformat.writes(nb)
    return Outcome(job.job_id, notebook, record, host, time.perf_counter() - started, memory.peak, verification.evidence)
