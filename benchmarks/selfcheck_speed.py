"""How long `check(<function>)` takes for each of the five functions with the reference answers: the first call
(cold: loads MNIST, builds Keras graphs) and the next one (warm, as in a kernel the student has been using).
Target: under 2 s warm. Prints figures; asserts nothing. Usage: python benchmarks/selfcheck_speed.py
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path

from course.student.data import make_mnist_path_absolute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "grader_tests"))


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    make_mnist_path_absolute()
    from course.grading.reference import reference_namespace
    from course.student.checks import SELF_CHECKS
    from course.student.selfcheck import check

    answers = reference_namespace(ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb")
    for name in SELF_CHECKS:
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as output:
                check(answers[name])
            timings.append(time.perf_counter() - started)
        verdict = output.getvalue().split(" ")[0]
        print(f"check({name}): {verdict} cold {timings[0]:.2f} s, warm {timings[1]:.2f} s   target < 2 s warm")


if __name__ == "__main__":
    main()
