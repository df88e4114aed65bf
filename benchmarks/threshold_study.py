"""How the test-accuracy threshold (and, for mnist_confusion, the epoch count) was chosen: train the reference
solution over several seeds, and plausible under-trained answers, then print the accuracy distribution.

Prints figures; asserts nothing. Usage:

    python benchmarks/threshold_study.py [--seeds 5]                                  # mnist_cnn
    python benchmarks/threshold_study.py --assignment mnist_confusion --seeds 5 [--epochs 1 2 3 4 5]

For mnist_confusion each seed trains once, for the largest epoch count, and the test accuracy is measured after
every epoch asked for: the model after epoch 2 of a 5-epoch fit is the model a 2-epoch fit leaves (same seed, same
batches), so one run per seed gives every epoch count. ``--steps-per-execution 64`` trains as a grading kernel does
(course/sandboxed/keras_batching.py: the same weights, less time per epoch).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
UNDER_TRAINED_SLICE = 3000  # images: a student who trains on a slice to save time
TUTORIAL_BATCH_SIZE = 128  # cnn_tutorial's BATCH_SIZE, which students may copy


def mnist_cnn(args):
    import keras

    from course.assignments.mnist_cnn import MIN_TEST_ACCURACY
    from course.grading.reference import reference_namespace
    from course.student.data import load_mnist

    threshold = MIN_TEST_ACCURACY.value
    ref = reference_namespace(ROOT / "source" / "mnist_cnn" / "mnist_cnn.ipynb")
    (x_train, y_train), (x_test, y_test) = load_mnist()
    x_train, x_test = ref["scale_mnist_data"](x_train, x_test)
    x_train, x_test = x_train[..., None], x_test[..., None]

    def accuracy(model):
        return float(np.mean(model.predict(x_test, batch_size=1024, verbose=0).argmax(-1) == y_test))

    def fresh_model(seed):
        keras.utils.set_random_seed(seed)
        model = ref["get_model"](x_train[0].shape)
        ref["compile_model"](model)
        return model

    reference = []
    for seed in range(args.seeds):
        model = fresh_model(seed)
        started = time.perf_counter()
        ref["train_model"](model, x_train, y_train)
        reference.append(accuracy(model))
        print(f"reference seed {seed}: test accuracy {reference[-1]:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    under_trained = {
        "1 epoch on 3,000 images": dict(x=x_train[:3000], y=y_train[:3000], epochs=1),
        "1 epoch on all images": dict(x=x_train, y=y_train, epochs=1),
        "5 epochs on 3,000 images": dict(x=x_train[:3000], y=y_train[:3000], epochs=5),
        "untrained": None,
    }
    results = {}
    for name, fit in under_trained.items():
        model = fresh_model(0)
        if fit:
            model.fit(fit["x"], fit["y"], epochs=fit["epochs"], verbose=0)
        results[name] = accuracy(model)
        print(f"{name}: test accuracy {results[name]:.4f}", flush=True)

    print(f"\nreference over {len(reference)} seeds: min {min(reference):.4f}, mean {np.mean(reference):.4f}, max {max(reference):.4f}")
    print(f"threshold MIN_TEST_ACCURACY = {threshold}: margin below the worst seed {min(reference) - threshold:.4f}")
    print(f"best under-trained answer: {max(results.values()):.4f} ({max(results, key=results.get)}), "
          f"margin above it {threshold - max(results.values()):.4f}")


def mnist_confusion(args):
    import keras

    from course.assignments.mnist_confusion import MIN_TEST_ACCURACY
    from course.grading.reference import reference_namespace
    from course.student.data import load_mnist

    ref = reference_namespace(ROOT / "source" / "mnist_confusion" / "mnist_confusion.ipynb")
    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    # the notebook's locked scaling cell, and the reference one_hot_labels
    x_train = (train_images.astype("float32") / 255.0)[..., np.newaxis]
    x_test = (test_images.astype("float32") / 255.0)[..., np.newaxis]
    y_train = ref["one_hot_labels"](train_labels)
    epochs_measured = sorted(set(args.epochs))

    def accuracy(model):
        return float(np.mean(model.predict(x_test, batch_size=1024, verbose=0).argmax(-1) == test_labels))

    def fresh_model(seed):
        keras.utils.set_random_seed(seed)
        model = ref["build_cnn"](x_train[0].shape)
        ref["compile_cnn"](model)
        return model

    class TestAccuracyAfterEpochs(keras.callbacks.Callback):
        """Test accuracy after each epoch asked for, and the training seconds up to then (prediction not counted)."""

        def __init__(self):
            super().__init__()
            self.accuracy, self.seconds, self.spent = {}, {}, 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.spent += time.perf_counter() - self.started
            if epoch + 1 in epochs_measured:
                self.accuracy[epoch + 1], self.seconds[epoch + 1] = accuracy(self.model), self.spent

    fit_options = dict(validation_split=ref["VALIDATION_SPLIT"], verbose=0)
    reference = {}
    for seed in range(args.seeds):
        model = fresh_model(seed)
        recorder = TestAccuracyAfterEpochs()
        model.fit(x_train, y_train, epochs=max(epochs_measured), callbacks=[recorder], **fit_options)
        reference[seed] = recorder
        figures = ", ".join(f"{epochs} ep {recorder.accuracy[epochs]:.4f} ({recorder.seconds[epochs]:.0f} s)" for epochs in epochs_measured)
        print(f"reference seed {seed}: {figures}", flush=True)

    chosen = ref["EPOCHS"]
    # a valid answer the tests do not rule out: the tutorial's batch size, 4x fewer training steps
    tutorial_batch = []
    for seed in range(args.seeds):
        model = fresh_model(seed)
        model.fit(x_train, y_train, epochs=chosen, batch_size=TUTORIAL_BATCH_SIZE, **fit_options)
        tutorial_batch.append(accuracy(model))
        print(f"batch size {TUTORIAL_BATCH_SIZE}, {chosen} epochs, seed {seed}: test accuracy {tutorial_batch[-1]:.4f}", flush=True)

    under_trained = {
        f"{chosen} epochs on the first {UNDER_TRAINED_SLICE:,} images": dict(x=x_train[:UNDER_TRAINED_SLICE], y=y_train[:UNDER_TRAINED_SLICE], epochs=chosen),
        f"1 epoch on the first {UNDER_TRAINED_SLICE:,} images": dict(x=x_train[:UNDER_TRAINED_SLICE], y=y_train[:UNDER_TRAINED_SLICE], epochs=1),
        "untrained": None,
    }
    results = {}
    for name, fit in under_trained.items():
        model = fresh_model(0)
        if fit:
            model.fit(fit["x"], fit["y"], epochs=fit["epochs"], **fit_options)
        results[name] = accuracy(model)
        print(f"{name}: test accuracy {results[name]:.4f}", flush=True)

    print("\ntest accuracy of the reference over", len(reference), "seeds, by epochs:")
    for epochs in epochs_measured:
        values = [recorder.accuracy[epochs] for recorder in reference.values()]
        seconds = [recorder.seconds[epochs] for recorder in reference.values()]
        print(f"  {epochs} epoch(s): min {min(values):.4f}, mean {np.mean(values):.4f}, max {max(values):.4f}, "
              f"spread {max(values) - min(values):.4f}; training {np.mean(seconds):.1f} s on average")
    if chosen in epochs_measured:
        worst = min(recorder.accuracy[chosen] for recorder in reference.values())
        one_epoch = max((recorder.accuracy[1] for recorder in reference.values()), default=None) if 1 in epochs_measured else None
        threshold = MIN_TEST_ACCURACY.value
        print(f"\nEPOCHS = {chosen}; threshold MIN_TEST_ACCURACY = {threshold}: margin below the worst seed {worst - threshold:.4f}")
        print(f"batch size {TUTORIAL_BATCH_SIZE} over {len(tutorial_batch)} seeds: min {min(tutorial_batch):.4f}, "
              f"mean {np.mean(tutorial_batch):.4f}, max {max(tutorial_batch):.4f}; margin below its worst seed {min(tutorial_batch) - threshold:.4f}")
        if one_epoch is not None:
            print(f"best 1-epoch reference (a wrong epoch count): {one_epoch:.4f}, threshold {threshold - one_epoch:+.4f} above it")
        print(f"best under-trained answer: {max(results.values()):.4f} ({max(results, key=results.get)}), "
              f"margin above it {threshold - max(results.values()):.4f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", choices=("mnist_cnn", "mnist_confusion"), default="mnist_cnn")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="mnist_confusion: the epoch counts measured")
    parser.add_argument("--steps-per-execution", type=int, default=1, help="training batches per compiled call (grading kernels: 64)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.steps_per_execution > 1:
        from course.sandboxed import keras_batching

        keras_batching.install(args.steps_per_execution)
    {"mnist_cnn": mnist_cnn, "mnist_confusion": mnist_confusion}[args.assignment](args)


if __name__ == "__main__":
    main()
