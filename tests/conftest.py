import os
from pathlib import Path

import matplotlib
import pytest

from course.data import make_mnist_path_absolute

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

make_mnist_path_absolute()  # kernels run in each notebook's folder


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = os.environ.get("MNIST_PATH")
    if not path:
        pytest.fail("Set MNIST_PATH to the real mnist.npz (e.g. ../shared/data/mnist.npz); `make test` does this.")
    return Path(path).resolve()
