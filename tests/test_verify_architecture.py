"""The verifier judges the model the notebook trained against what the student's own get_model builds."""

import keras

from course.grading.verify import architecture_difference


def spec_model(input_shape, filters=8, units=64):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_the_same_architecture_on_another_input_size_agrees():
    assert architecture_difference(spec_model((28, 28, 1)), spec_model((32, 32, 1))) is None
    assert architecture_difference(spec_model((28, 28, 1), filters=16), spec_model((32, 32, 1), filters=16)) is None


def test_a_different_model_is_named_by_its_first_difference():
    assert "filters" in architecture_difference(spec_model((28, 28, 1), filters=16), spec_model((32, 32, 1)))
    dense = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    assert "layers" in architecture_difference(dense, spec_model((32, 32, 1)))
    wider = spec_model((28, 28, 1), units=128)
    assert "layer 4 (Dense) differs in units" == architecture_difference(wider, spec_model((32, 32, 1)))


def test_the_verifiers_predictions_are_what_keras_predict_gives():
    import numpy as np

    from course.grading.verify import _predictions

    model = spec_model((28, 28, 1))
    images = np.random.default_rng(0).random((2500, 28, 28, 1), dtype=np.float32)  # 2 full batches and a part
    expected = model.predict(images, batch_size=1024, verbose=0)
    assert np.array_equal(_predictions(model, images, 1024, model.predict), expected)
    inputs = keras.Input(shape=(28, 28, 1))
    two_outputs = keras.Model(inputs, [model(inputs), model(inputs)])  # not one array: Keras' own predict answers
    assert all(np.array_equal(part, expected) for part in _predictions(two_outputs, images, 1024, two_outputs.predict))
