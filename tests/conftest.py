import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

# Kernels run in the notebook's folder, so a relative MNIST_PATH must be made absolute here.
if os.environ.get("MNIST_PATH"):
    os.environ["MNIST_PATH"] = str(Path(os.environ["MNIST_PATH"]).resolve())


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = os.environ.get("MNIST_PATH")
    if not path:
        pytest.fail("Set MNIST_PATH to the real mnist.npz (e.g. ../shared/data/mnist.npz); `make test` does this.")
    return Path(path).resolve()
