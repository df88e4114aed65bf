"""How the test-accuracy threshold was chosen: train the reference solution over several seeds,
and plausible under-trained answers, then print the accuracy distribution.

Prints figures; asserts nothing. Usage: python benchmarks/threshold_study.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from course.student.data import load_mnist
    from course.grading.reference import reference_namespace
    from course.grading.thresholds import MIN_TEST_ACCURACY

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
    print(f"threshold MIN_TEST_ACCURACY = {MIN_TEST_ACCURACY}: margin below the worst seed {min(reference) - MIN_TEST_ACCURACY:.4f}")
    print(f"best under-trained answer: {max(results.values()):.4f} ({max(results, key=results.get)}), "
          f"margin above it {MIN_TEST_ACCURACY - max(results.values()):.4f}")


if __name__ == "__main__":
    main()
