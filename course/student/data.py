"""Load MNIST in the Keras layout, from a local file when there is no network.

Lookup order: an explicit ``path``, the ``MNIST_PATH`` environment variable,
the local Keras cache, then the Keras download (for online users, e.g. Binder).
Whatever is found is validated before it is returned, so a bad file fails here
with its name and the problem instead of deep inside a model. ``resolve_mnist_file``
returns the file itself (absolute), for processes that must be told where it is.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

MNIST_PATH_ENV = "MNIST_PATH"
EXPECTED_ARRAYS = {
    "x_train": ((60000, 28, 28), np.uint8),
    "y_train": ((60000,), np.uint8),
    "x_test": ((10000, 28, 28), np.uint8),
    "y_test": ((10000,), np.uint8),
}
NUM_CLASSES = 10


class MnistLoadError(RuntimeError):
    """MNIST could not be found, read or validated."""


def make_mnist_path_absolute() -> None:
    """Kernels run in each notebook's own folder: a relative ``MNIST_PATH`` must not change meaning there."""
    if os.environ.get(MNIST_PATH_ENV):
        os.environ[MNIST_PATH_ENV] = os.path.abspath(os.environ[MNIST_PATH_ENV])


def keras_cache_path() -> Path:
    """Where Keras keeps its downloaded copy (``$KERAS_HOME/datasets/mnist.npz``)."""
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(keras_home) / "datasets" / "mnist.npz"


def resolve_mnist_file(path: str | os.PathLike | None = None) -> Path:
    """The absolute path of a valid MNIST file, found in ``load_mnist``'s order.

    An explicit ``path``, else ``$MNIST_PATH``, else the Keras cache, else the Keras download (which fills the
    cache). Raises ``MnistLoadError`` naming the file when it is missing or not MNIST, or when nothing is found.
    """
    found, origin = locate_mnist_file(path)
    _load_npz(found, origin)
    return found


def load_mnist(path: str | os.PathLike | None = None):
    """Return ``(x_train, y_train), (x_test, y_test)`` as validated uint8 arrays (file found as in
    ``resolve_mnist_file``)."""
    return _load_npz(*locate_mnist_file(path))


def locate_mnist_file(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The one lookup order: the file to read (absolute, not yet validated) and where it came from."""
    if path is not None:
        return Path(os.path.abspath(path)), "the path argument"
    env_path = os.environ.get(MNIST_PATH_ENV)
    if env_path:
        return Path(os.path.abspath(env_path)), f"${MNIST_PATH_ENV}"
    cache = keras_cache_path()
    if cache.is_file():
        return Path(os.path.abspath(cache)), "the Keras cache"
    _download()
    return Path(os.path.abspath(keras_cache_path())), "the Keras download"


def _download() -> None:
    try:
        from keras.datasets import mnist

        mnist.load_data()
    except Exception as error:  # network, proxy, hash mismatch: all mean "no download"
        raise MnistLoadError(
            f"MNIST is not available offline and the Keras download failed ({error}). "
            f"Point ${MNIST_PATH_ENV} at a local mnist.npz, e.g. "
            f"`export {MNIST_PATH_ENV}=../shared/data/mnist.npz`, or pass load_mnist(path=...)."
        ) from error


def _load_npz(path: Path, origin: str):
    if not path.exists():
        raise MnistLoadError(f"{path} (from {origin}) does not exist. Check the path, or unset it to use the Keras cache.")
    if not path.is_file():
        raise MnistLoadError(f"{path} (from {origin}) is not a file. Point it at mnist.npz itself.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = sorted(set(EXPECTED_ARRAYS) - set(archive.files))
            if missing:
                raise MnistLoadError(
                    f"{path} is not an MNIST archive: it lacks {', '.join(missing)} "
                    f"(it has {', '.join(sorted(archive.files)) or 'no arrays'})."
                )
            arrays = {name: archive[name] for name in EXPECTED_ARRAYS}
    except MnistLoadError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise MnistLoadError(
            f"{path} could not be read as a .npz archive ({type(error).__name__}: {error}). "
            "It is probably truncated or corrupt: copy it again."
        ) from error
    _validate(path, arrays)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _validate(path: Path, arrays: dict[str, np.ndarray]) -> None:
    for name, (shape, dtype) in EXPECTED_ARRAYS.items():
        array = arrays[name]
        if array.shape != shape:
            raise MnistLoadError(f"{path}: {name} has shape {array.shape}; MNIST has {shape}.")
        if array.dtype != dtype:
            raise MnistLoadError(f"{path}: {name} has dtype {array.dtype}; MNIST has {np.dtype(dtype)}.")
    for name in ("y_train", "y_test"):
        labels = arrays[name]
        if labels.max() >= NUM_CLASSES:
            raise MnistLoadError(f"{path}: {name} holds label {int(labels.max())}; MNIST labels are 0-9.")
    for name in ("x_train", "x_test"):
        if arrays[name].max() == 0:
            raise MnistLoadError(f"{path}: {name} is all zeros; MNIST pixels span 0-255.")
