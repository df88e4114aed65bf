"""Time and peak memory of the tutorial notebook, executed end to end in a real kernel.

Targets (issue 2): peak kernel RSS under 1.5 GB so a Binder pod survives; training under 30 s on 2 cores.
Prints figures; asserts nothing. Run with `make benchmark` (MNIST_PATH must point at mnist.npz).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil

from course.execute import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "release" / "cnn_tutorial" / "cnn_tutorial.ipynb"
POLL_S = 0.25


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


def main():
    if os.environ.get("MNIST_PATH"):
        os.environ["MNIST_PATH"] = str(Path(os.environ["MNIST_PATH"]).resolve())
    monitor = PeakChildMemory()
    monitor.start()
    result = execute_notebook(TUTORIAL)
    monitor.stopped.set()
    monitor.join()
    training = next(cell for cell in result.notebook.cells if cell.cell_type == "code" and "model.fit(" in cell.source)
    print(f"cores: {os.cpu_count()}")
    print(f"tutorial end to end (kernel start to last cell): {result.seconds:.1f} s")
    print(f"training cell (model.fit): {cell_seconds(training):.1f} s   target < 30 s")
    print(f"peak kernel resident memory: {monitor.peak_bytes / 2**30:.2f} GiB   target < 1.5 GB")
    print(result.stdout().strip().splitlines()[-1])


if __name__ == "__main__":
    main()
