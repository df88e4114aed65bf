"""How many TensorFlow threads a grading kernel should get: the reference submission executed bare with nbclient,
with TensorFlow's default threads, with one thread, and as two one-thread kernels at once.

Prints figures; asserts nothing. Usage: python benchmarks/kernel_threads.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course.student.data import make_mnist_path_absolute
from course.grading.worker import tensorflow_threads

SUBMISSION = Path(__file__).resolve().parents[1] / "grader_tests" / "submissions" / "passes_all.ipynb"
ONE_THREAD = tensorflow_threads(1)


def start(folder: Path, env: dict) -> subprocess.Popen:
    folder.mkdir(exist_ok=True)
    shutil.copy(SUBMISSION, folder / "notebook.ipynb")
    code = "from course.execute import execute_notebook; execute_notebook('notebook.ipynb')"
    return subprocess.Popen([sys.executable, "-c", code], cwd=folder, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(*processes: subprocess.Popen) -> float:
    started = time.perf_counter()
    for process in processes:
        process.wait()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    make_mnist_path_absolute()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for round_number in range(1, args.rounds + 1):
            default = timed(start(tmp / "default", {}))
            pair = timed(start(tmp / "first", ONE_THREAD), start(tmp / "second", ONE_THREAD))
            single = timed(start(tmp / "single", ONE_THREAD))
            print(f"round {round_number}: default threads {default:.1f} s; one thread {single:.1f} s; "
                  f"two one-thread kernels at once {pair:.1f} s (throughput x{2 * default / pair:.2f} of default)", flush=True)
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
