"""What a grading worker does with one submission: execute it and verify it, touching no gradebook.

`course grade` (the coordinator) runs nbgrader's autograde itself, and at the execution step ships the sanitized
notebook and the submission's other files here as bytes, so workers need no filesystem in common with it. The
worker runs the execution stage of the configured pipeline (ExportArtifacts, ResilientExecute,
TrustedVerification) in a private folder and returns the executed notebook and the verification record;
the coordinator writes the gradebook. Student code runs only in sandboxed kernels and harnesses, as always.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from . import quick_imports  # noqa: F401  (before nbgrader, which imports nbformat)

MNIST_CACHE = Path.home() / ".cache" / "mnist-cnn-course"  # use_uncompressed_mnist's copies


class WorkerNotReadyError(RuntimeError):
    """The worker machine cannot grade (no bubblewrap, no MNIST); no student's fault, so no student's score."""


@dataclass
class Job:
    student: str
    assignment: str
    notebook_name: str
    notebook: str  # the sanitized notebook, as JSON
    files: dict[str, bytes]  # the submission's other files, by path relative to the notebook's folder
    stage: list[str]  # dotted names of the preprocessors to run, in order
    config: dict  # the course's nbgrader config (traitlets Config)
    course_root: str  # the coordinator's course directory, hidden from kernels if this machine has it
    slots_per_host: dict[str, int] = field(default_factory=dict)  # worker host -> tasks it runs at once


@dataclass
class Outcome:
    notebook_name: str
    notebook: str
    files: dict[str, bytes]
    worker: str
    seconds: float
    peak_memory_bytes: int  # the worker process and everything it started (kernel, harness, verifier)


def _class(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _worker_host() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # not on a Dask worker (a direct call)
        return "local"


def check_ready(config) -> None:
    sandboxed = config.get("ResilientExecute", {}).get("sandboxed", True)
    if sandboxed and shutil.which("bwrap") is None:
        raise WorkerNotReadyError(f"worker {_worker_host()} has no bubblewrap (bwrap): install it there (apt-get install bubblewrap)")
    from course.data import MNIST_PATH_ENV

    # kernels have no network and a private home: they read MNIST from $MNIST_PATH only
    path = os.environ.get(MNIST_PATH_ENV)
    if not path or not os.path.isfile(path):
        raise WorkerNotReadyError(
            f"worker {_worker_host()} has no MNIST file: set {MNIST_PATH_ENV} in its environment to the absolute path "
            f"of mnist.npz (now: {path or 'unset'})"
        )


def use_uncompressed_mnist() -> None:
    """Point this worker's kernels, harnesses and verifiers at an uncompressed copy of the MNIST file.

    The same arrays, read in 0.05 s instead of decompressed in 0.5 s, about six times per submission. The copy is
    made once per machine and file, in ~/.cache/mnist-cnn-course/; the loader validates it like any other.
    """
    from course.data import MNIST_PATH_ENV, MnistLoadError, load_mnist

    source = os.environ.get(MNIST_PATH_ENV)
    if not source or not os.path.isfile(source) or Path(source).parent == MNIST_CACHE:
        return  # check_ready reports a missing file
    stat = os.stat(source)
    key = hashlib.sha256(f"{os.path.realpath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    copy = MNIST_CACHE / f"mnist-{key}.npz"
    if not copy.is_file():
        try:
            (x_train, y_train), (x_test, y_test) = load_mnist(source)
            MNIST_CACHE.mkdir(parents=True, exist_ok=True)
            partial = copy.with_name(f"{copy.stem}.{os.getpid()}.partial.npz")  # renamed: other workers see all or nothing
            np.savez(partial, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
            os.replace(partial, copy)
        except (MnistLoadError, OSError):
            return  # the original file it is, then: a bad one is reported by the kernels, naming it
    os.environ[MNIST_PATH_ENV] = str(copy)


def dask_setup(worker) -> None:
    """Dask's preload hook (``LocalCluster(preload=["course.grading.worker"])``), run as a local worker starts.

    Ctrl-C is for the coordinator, which stops the workers in order; a worker that took it would die with a
    traceback. And a second of imports (nbgrader, nbclient, jupyter_client) and the uncompressed MNIST copy are
    done before the first task comes.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import preprocessors  # noqa: F401  (and with it nbgrader, nbclient, nbformat, jupyter_client, traitlets)

    use_uncompressed_mnist()


def kernel_threads(cores: int, slots: int) -> int:
    """TensorFlow intra-op threads of each kernel on a host with ``cores`` running ``slots`` submissions at once."""
    return max(1, (cores - 1) // slots)


def tensorflow_threads(intra_op: int) -> dict[str, str]:
    """The environment that gives a kernel ``intra_op`` TensorFlow threads and one op at a time."""
    return {"TF_NUM_INTRAOP_THREADS": str(intra_op), "TF_NUM_INTEROP_THREADS": "1"}


class PeakMemory:
    """Samples the resident memory of this process and its descendants, twice a second."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        me = psutil.Process()
        while not self._stop.wait(0.5):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
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
    """Run the execution stage on one notebook of one submission (the Dask task)."""
    import nbformat
    from nbgrader.utils import setenv
    from traitlets.config import Config

    from .preprocessors import VERIFICATION_FILE

    started = time.perf_counter()
    config = Config(job.config)
    check_ready(config)
    use_uncompressed_mnist()
    host = _worker_host()
    slots = job.slots_per_host.get(host.partition("://")[2].rpartition(":")[0])
    if slots:
        # kernels inherit these. One core is left to the harness, the verifier and the coordinator, and the kernels
        # at once share the rest, so they do not fight over this host's cores; one op at a time, as this network is
        # too small for parallel ops to pay (benchmarks/kernel_threads.py: one thread beats TensorFlow's default)
        os.environ.update(tensorflow_threads(kernel_threads(os.cpu_count() or 1, slots)))
    with tempfile.TemporaryDirectory(prefix="course-job-") as tmp, PeakMemory() as memory:
        workdir = Path(tmp) / job.student / job.assignment
        workdir.mkdir(parents=True)
        for relative, content in job.files.items():
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if not Path(job.course_root).is_dir():
            config.Sandbox.course_root = tmp  # this machine has no copy of the course to hide
        nb = nbformat.reads(job.notebook, as_version=4)
        name = Path(job.notebook_name).stem
        resources = {"metadata": {"path": str(workdir), "name": name}, "unique_key": name, "output_files_dir": f"{name}_files"}
        with setenv(NBGRADER_EXECUTION="autograde"):
            for dotted in job.stage:
                nb, resources = _class(dotted)(config=config)(nb, resources)
        record = workdir / VERIFICATION_FILE
        returned = {VERIFICATION_FILE: record.read_bytes()} if record.is_file() else {}
        notebook = nbformat.writes(nb)
    return Outcome(job.notebook_name, notebook, returned, host, time.perf_counter() - started, memory.peak)
