import numpy as np
import pytest

from course.student import data
from course.student.data import MnistLoadError, load_mnist


@pytest.fixture(scope="module")
def real_arrays(mnist_path):
    with np.load(mnist_path) as archive:
        return {name: archive[name] for name in archive.files}


def write_npz(path, arrays, **changes):
    np.savez(path, **{**arrays, **changes})
    return path


def test_loads_the_real_dataset_in_keras_layout(mnist_path):
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist_path)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the original LeCun order
    assert sorted(np.unique(y_test).tolist()) == list(range(10))


def test_explicit_path_beats_the_environment(mnist_path, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    (x_train, _), _ = load_mnist(mnist_path)
    assert x_train.shape == (60000, 28, 28)
    with pytest.raises(MnistLoadError, match="missing.npz"):
        load_mnist()


def test_keras_cache_is_used_when_no_path_is_given(mnist_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").symlink_to(mnist_path)
    (_, y_train), _ = load_mnist()
    assert len(y_train) == 60000


def test_failed_download_says_how_to_work_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    from keras.datasets import mnist

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: network is unreachable")

    monkeypatch.setattr(mnist, "load_data", no_network)
    with pytest.raises(MnistLoadError, match="MNIST_PATH") as error:
        load_mnist()
    assert "network is unreachable" in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MnistLoadError, match=r"nowhere\.npz.*does not exist"):
        load_mnist(tmp_path / "nowhere.npz")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(MnistLoadError, match="is not a file"):
        load_mnist(tmp_path)


def test_truncated_archive(mnist_path, tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(mnist_path.read_bytes()[:100_000])
    with pytest.raises(MnistLoadError, match=r"truncated\.npz could not be read.*truncated or corrupt"):
        load_mnist(truncated)


def test_not_an_archive(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("<html>404 Not Found</html>")
    with pytest.raises(MnistLoadError, match=r"garbage\.npz could not be read"):
        load_mnist(garbage)


def test_missing_arrays(real_arrays, tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=real_arrays["x_train"], y_train=real_arrays["y_train"])
    with pytest.raises(MnistLoadError, match=r"partial\.npz is not an MNIST archive: it lacks x_test, y_test"):
        load_mnist(path)


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("x_train", lambda a: a[:1000], r"x_train has shape \(1000, 28, 28\)"),
        ("x_test", lambda a: a.reshape(10000, 784), r"x_test has shape \(10000, 784\)"),
        ("x_train", lambda a: a.astype(np.float32) / 255, "x_train has dtype float32"),
        ("y_test", lambda a: a.astype(np.int64), "y_test has dtype int64"),
        ("y_train", lambda a: np.where(a == 9, 10, a).astype(np.uint8), "y_train holds label 10"),
        ("x_test", np.zeros_like, "x_test is all zeros"),
    ],
)
def test_wrong_arrays_are_named(real_arrays, tmp_path, name, change, message):
    path = write_npz(tmp_path / "bad.npz", real_arrays, **{name: change(real_arrays[name])})
    with pytest.raises(MnistLoadError, match=message) as error:
        load_mnist(path)
    assert "bad.npz" in str(error.value)


def test_pickled_objects_are_refused(real_arrays, tmp_path):
    path = write_npz(tmp_path / "pickled.npz", real_arrays, y_test=np.array([object()] * 10000))
    with pytest.raises(MnistLoadError, match=r"pickled\.npz"):
        load_mnist(path)


def test_keras_cache_location_follows_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert data.keras_cache_path() == tmp_path / "datasets" / "mnist.npz"


# resolve_mnist_file: the same order as load_mnist, returning the validated file's absolute path


def test_resolve_explicit_relative_path_is_made_absolute(mnist_path, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist.npz").symlink_to(mnist_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    resolved = data.resolve_mnist_file("data/mnist.npz")
    assert resolved == tmp_path / "data" / "mnist.npz" and resolved.is_absolute()


def test_resolve_uses_the_environment_before_the_keras_cache(mnist_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").write_text("not this one")
    monkeypatch.setenv("MNIST_PATH", str(mnist_path))
    assert data.resolve_mnist_file() == mnist_path


def test_resolve_falls_back_to_the_keras_cache(mnist_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").symlink_to(mnist_path)
    assert data.resolve_mnist_file() == tmp_path / "datasets" / "mnist.npz"


def test_resolve_downloads_into_the_keras_cache_when_it_is_empty(mnist_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    from keras.datasets import mnist

    downloads = []

    def fake_download(*args, **kwargs):  # what Keras does: fill $KERAS_HOME/datasets/mnist.npz
        downloads.append(1)
        (tmp_path / "datasets").mkdir(exist_ok=True)
        (tmp_path / "datasets" / "mnist.npz").symlink_to(mnist_path)

    monkeypatch.setattr(mnist, "load_data", fake_download)
    assert data.resolve_mnist_file() == tmp_path / "datasets" / "mnist.npz"
    assert data.resolve_mnist_file() == tmp_path / "datasets" / "mnist.npz"
    assert len(downloads) == 1, "the second lookup finds the cache"


def test_resolve_names_a_missing_environment_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "elsewhere.npz"))
    with pytest.raises(MnistLoadError, match=r"elsewhere\.npz \(from \$MNIST_PATH\) does not exist"):
        data.resolve_mnist_file()


def test_resolve_validates_the_file(real_arrays, tmp_path):
    path = write_npz(tmp_path / "bad.npz", real_arrays, y_train=real_arrays["y_train"][:10])
    with pytest.raises(MnistLoadError, match=r"bad\.npz: y_train has shape"):
        data.resolve_mnist_file(path)


def test_load_mnist_reads_the_file_resolve_finds(mnist_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").symlink_to(mnist_path)
    read = []
    original = data._load_npz
    monkeypatch.setattr(data, "_load_npz", lambda path, origin: read.append(path) or original(path, origin))
    load_mnist()
    assert read == [tmp_path / "datasets" / "mnist.npz"]
    assert data.resolve_mnist_file() == read[0]
