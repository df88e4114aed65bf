"""Peak memory of the released assignment notebook completed with the reference answers, executed end to end
in a real kernel, as a student would run it on Binder (about 2 GB of memory there).

Prints figures; asserts nothing. Usage: python benchmarks/student_memory.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from course.student.data import make_mnist_path_absolute
from course.execute import execute_notebook

from measure import PeakChildMemory, cell_seconds

ROOT = Path(__file__).resolve().parents[1]
COMPLETED = ROOT / "grader_tests" / "submissions" / "passes_all.ipynb"
BINDER_MEMORY_GB = 2.0


def main():
    make_mnist_path_absolute()
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / "mnist_cnn.ipynb"
        shutil.copy(COMPLETED, notebook)
        monitor = PeakChildMemory()
        monitor.start()
        result = execute_notebook(notebook)
        monitor.stopped.set()
        monitor.join()
    training = next(cell for cell in result.notebook.cells if "history = train_model(" in cell.source)
    print(f"released assignment with reference answers, end to end: {result.seconds:.1f} s (training cell {cell_seconds(training):.1f} s)")
    print(f"peak kernel resident memory: {monitor.peak_bytes / 2**30:.2f} GiB   Binder allows about {BINDER_MEMORY_GB:g} GB")
    print(f"errors: {result.errors() or 'none'}")


if __name__ == "__main__":
    main()
