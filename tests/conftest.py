from pathlib import Path

import matplotlib
import pytest

from course.student.data import make_mnist_path_absolute

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]

make_mnist_path_absolute()  # kernels run in each notebook's folder


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    from course.student.data import MnistLoadError, resolve_mnist_file

    try:
        return resolve_mnist_file()  # as the notebook finds it: $MNIST_PATH, the Keras cache, the download
    except MnistLoadError as error:
        pytest.fail(f"The tests need the real MNIST: {error}")
