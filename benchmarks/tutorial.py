"""Time and peak memory of the tutorial notebook, executed end to end in a real kernel.

Targets (issue 2): peak kernel RSS under 1.5 GB so a Binder pod survives; training under 30 s on 2 cores.
Prints figures; asserts nothing. Run with `make benchmark` (MNIST_PATH must point at mnist.npz).
"""

from __future__ import annotations

import os
from pathlib import Path

from course.student.data import make_mnist_path_absolute
from course.execute import execute_notebook

from measure import PeakChildMemory, cell_seconds

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "release" / "cnn_tutorial" / "cnn_tutorial.ipynb"


def main():
    make_mnist_path_absolute()
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
