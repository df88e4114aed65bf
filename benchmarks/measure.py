"""Shared by the benchmark scripts: peak memory of child processes, a cell's run time, a bare nbclient run."""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil

POLL_S = 0.25
# appended to a course's nbgrader_config.py: its kernels train one batch per compiled call, as a bare run does
KERAS_DEFAULT_STEPS_CONFIG = """
c.ResilientExecute.keras_steps_per_execution = 1
"""


class PeakChildMemory(threading.Thread):
    """Polls the resident memory of every child process (the kernel) until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_bytes = 0
        self.stopped = threading.Event()

    def run(self):
        me = psutil.Process()
        while not self.stopped.is_set():
            for child in me.children(recursive=True):
                try:
                    self.peak_bytes = max(self.peak_bytes, child.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(POLL_S)


def cell_seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def time_bare_nbclient(notebook: Path, workdir: Path, tf_threads: int | None = None) -> float:
    """Seconds to execute a copy of ``notebook`` in ``workdir`` with plain nbclient: the baseline of grading.

    ``tf_threads``: TensorFlow's intra-op threads for the kernel (and one inter-op thread), as `course grade` sets
    them; None leaves TensorFlow's defaults, as a student's or an instructor's own run would.
    """
    from course.execute import execute_notebook
    from course.grading.worker import tensorflow_threads

    copy = workdir / notebook.name
    shutil.copy(notebook, copy)
    saved = dict(os.environ)
    if tf_threads is not None:
        os.environ.update(tensorflow_threads(tf_threads))
    try:
        started = time.perf_counter()
        execute_notebook(copy)
        return time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)
