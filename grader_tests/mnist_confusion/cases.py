"""Student answers for the mnist_confusion assignment, one function each, and what grading must do with them.

The format of grader_tests/cases.py: a wrong answer names the test cells it must lose, each with a fragment of the
message the student must see; a valid answer loses nothing. Each case is plain data (the function's source code),
run in the notebook's namespace (its imports: numpy as np, keras, layers, NUM_CLASSES, EPOCHS, VALIDATION_SPLIT;
and its data: train_labels, scaled_train_images, ...). ``test_checks.py`` runs every case through the spec's checks
and through the notebook's own test cells, in-process and without training. The notes say why an answer is valid
or wrong where that was a decision (course/assignments/mnist_confusion/hidden_checks.py lists the decisions).
"""

from __future__ import annotations

from cases import valid, wrong  # grader_tests/cases.py: the format of every assignment's cases
from course.student.confusion_checks import EPOCHS

ONE_HOT = "one_hot_labels"
BUILD = "build_cnn"
COMPILE = "compile_cnn"
TRAIN = "train_cnn"
CONFUSION = "confusion_per_class"
OTHER_EPOCHS = EPOCHS + 2


def one_hot_code(body: str, imports: str = "") -> str:
    return f"""{imports}def one_hot_labels(labels):
    {body}"""


def build_code(*layers: str, imports: str = "") -> str:
    body = ",\n        ".join(layers)
    return f"""{imports}def build_cnn(input_shape):
    return keras.Sequential([
        {body},
    ])"""


INPUT = "keras.Input(shape=input_shape)"
CONV_1 = 'layers.Conv2D(10, (3, 3), activation="relu")'
CONV_2 = 'layers.Conv2D(5, (3, 3), activation="relu")'
POOL = "layers.MaxPooling2D((2, 2))"
TAIL = ("layers.Flatten()", 'layers.Dense(10, activation="softmax")')
SPEC_LAYERS = (INPUT, CONV_1, POOL, CONV_2, POOL, *TAIL)


def compile_code(arguments: str, imports: str = "") -> str:
    return f"""{imports}def compile_cnn(model):
    model.compile({arguments})"""


def train_code(body: str) -> str:
    return f"""def train_cnn(model, scaled_train_images, one_hot_train_labels):
    {body}"""


def confusion_code(body: str, imports: str = "") -> str:
    return f"""{imports}def confusion_per_class(true_labels, predicted_labels):
    {body}"""


COUNTS = """counts = np.zeros((10, 10))
    np.add.at(counts, (true_labels, predicted_labels), 1)
    """

CASES = [
    # --- one_hot_labels: valid ---
    valid("one_hot_num_classes_keyword", ONE_HOT, one_hot_code("return keras.utils.to_categorical(labels, num_classes=10)")),
    valid("one_hot_numpy_eye", ONE_HOT, one_hot_code("return np.eye(10)[labels]")),
    valid("one_hot_tf_one_hot_tensor", ONE_HOT, one_hot_code("return tf.one_hot(labels, 10)", imports="import tensorflow as tf\n\n"),
          note="a tensor: read as the array it holds"),
    valid("one_hot_integer_dtype", ONE_HOT, one_hot_code("return np.eye(10, dtype=int)[labels]"),
          note="decision: integer one-hot rows train the same (the loss casts the labels)"),
    valid("one_hot_comparison", ONE_HOT, one_hot_code('return (np.asarray(labels)[:, None] == np.arange(10)).astype("float32")')),
    # --- one_hot_labels: wrong ---
    wrong("one_hot_without_num_classes", ONE_HOT, one_hot_code("return keras.utils.to_categorical(labels)"),
          note="right on MNIST's training labels, which hold every digit; 9 columns for labels without a 9",
          test_one_hot_shape="returned 9 columns for labels without any 9"),
    wrong("one_hot_of_global_train_labels", ONE_HOT, one_hot_code("return keras.utils.to_categorical(train_labels, 10)"),
          test_one_hot_shape="return one row per label", test_one_hot_values="return one row per label"),
    wrong("one_hot_label_smoothing", ONE_HOT, one_hot_code("return keras.utils.to_categorical(labels, 10) * 0.9 + 0.01"),
          test_one_hot_values="a one-hot row is 1.0 in the label's column and 0.0 everywhere else"),
    wrong("one_hot_returns_labels", ONE_HOT, one_hot_code('return np.asarray(labels, dtype="float32")'),
          test_one_hot_shape="return one row per label and one column per class",
          test_one_hot_values="return one row per label"),
    wrong("one_hot_column_vector", ONE_HOT, one_hot_code('return np.asarray(labels, dtype="float32").reshape(-1, 1)'),
          test_one_hot_shape="returned 1 columns", test_one_hot_values="has 1 columns, so label 8 has none"),
    # --- build_cnn: valid ---
    valid("build_add_with_input_shape_argument", BUILD, """def build_cnn(input_shape):
    model = keras.Sequential()
    model.add(layers.Conv2D(10, (3, 3), activation="relu", input_shape=input_shape))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(5, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(10, activation="softmax"))
    return model"""),
    valid("build_tf_keras_explicit_defaults", BUILD, """import tensorflow as tf
from tensorflow.keras.layers import Conv2D, Dense, Flatten, MaxPool2D

def build_cnn(input_shape):
    return tf.keras.models.Sequential([
        tf.keras.layers.InputLayer(shape=input_shape),
        Conv2D(filters=10, kernel_size=3, strides=1, padding="valid", activation=tf.nn.relu),
        MaxPool2D(pool_size=2, strides=2),
        Conv2D(filters=5, kernel_size=(3, 3), padding="VALID", activation=tf.keras.activations.relu),
        MaxPool2D(pool_size=(2, 2)),
        Flatten(),
        Dense(units=10, activation=tf.nn.softmax),
    ])"""),
    valid("build_first_pool_same_padding", BUILD, build_code(INPUT, CONV_1, 'layers.MaxPooling2D(2, padding="same")', CONV_2, POOL, *TAIL),
          note="decision: the first pool sees an even-sized image (26x26 here, 30x30 in the grader's call): 'same' gives the 'valid' output"),
    valid("build_harmless_options", BUILD, build_code(
        INPUT, 'layers.Conv2D(10, 3, activation="relu", kernel_initializer="he_normal", name="conv_1")', POOL,
        'layers.Conv2D(5, 3, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4))', POOL, *TAIL)),
    # --- build_cnn: wrong ---
    wrong("build_same_padding", BUILD, build_code(
        INPUT, 'layers.Conv2D(10, 3, padding="same", activation="relu")', POOL, 'layers.Conv2D(5, 3, padding="same", activation="relu")', POOL, *TAIL),
          test_cnn_conv="Conv2D layer 1 uses padding='same'; the spec asks for the default 'valid' padding"),
    wrong("build_filters_swapped", BUILD, build_code(INPUT, 'layers.Conv2D(5, 3, activation="relu")', POOL, 'layers.Conv2D(10, 3, activation="relu")', POOL, *TAIL),
          test_cnn_conv="Conv2D layer 1 has 5 filters; the spec asks for 10"),
    wrong("build_tutorial_filters", BUILD, build_code(INPUT, 'layers.Conv2D(16, 3, activation="relu")', POOL, 'layers.Conv2D(32, 3, activation="relu")', POOL, *TAIL),
          note="the tutorial's 16 and 32 filters, copied",
          test_cnn_conv="Conv2D layer 1 has 16 filters; the spec asks for 10"),
    wrong("build_5x5_kernels", BUILD, build_code(INPUT, 'layers.Conv2D(10, 5, activation="relu")', POOL, 'layers.Conv2D(5, 5, activation="relu")', POOL, *TAIL),
          test_cnn_conv="Conv2D layer 1 has a (5, 5) kernel; the spec asks for 3x3"),
    wrong("build_second_conv_without_activation", BUILD, build_code(INPUT, CONV_1, POOL, "layers.Conv2D(5, 3)", POOL, *TAIL),
          test_cnn_conv="Conv2D layer 2 uses a linear (none) activation; the spec asks for ReLU"),
    wrong("build_second_pool_same_padding", BUILD, build_code(INPUT, CONV_1, POOL, CONV_2, 'layers.MaxPooling2D(2, padding="same")', *TAIL),
          note="the second pool sees an odd-sized image (11x11; 13x13 in the grader's call): 'same' adds a row and a column",
          test_cnn_pool="MaxPooling2D layer 2 uses padding='same', which turns its 13x13 input into 7x7 instead of 6x6"),
    wrong("build_average_pooling", BUILD, build_code(INPUT, CONV_1, "layers.AveragePooling2D(2)", CONV_2, POOL, *TAIL),
          test_cnn_layers="Layer 2 is AveragePooling2D", test_cnn_pool="The model has 1 MaxPooling2D layer(s)"),
    wrong("build_extra_hidden_dense", BUILD, build_code(INPUT, CONV_1, POOL, CONV_2, POOL, "layers.Flatten()", 'layers.Dense(64, activation="relu")', TAIL[1]),
          test_cnn_layers="The model has 7 layers", test_cnn_dense="The model has 2 Dense layers"),
    wrong("build_output_without_softmax", BUILD, build_code(INPUT, CONV_1, POOL, CONV_2, POOL, "layers.Flatten()", "layers.Dense(10)"),
          test_cnn_dense="The Dense layer uses a linear (none) activation; the spec asks for softmax"),
    wrong("build_fixed_input_shape", BUILD, build_code("keras.Input(shape=(28, 28, 1))", CONV_1, POOL, CONV_2, POOL, *TAIL),
          test_cnn_input_shape="take the input shape from the input_shape argument"),
    wrong("build_separate_relu_layers", BUILD, build_code(
        INPUT, "layers.Conv2D(10, 3)", "layers.ReLU()", POOL, "layers.Conv2D(5, 3)", "layers.ReLU()", POOL, *TAIL),
          note="computes the spec's function, but the spec asks for six layers: only the layer check fails",
          test_cnn_layers="The model has 8 layers"),
    # --- compile_cnn: valid ---
    valid("compile_objects", COMPILE, compile_code(
        "optimizer=keras.optimizers.Adam(), loss=keras.losses.CategoricalCrossentropy(), metrics=[keras.metrics.CategoricalAccuracy()]")),
    valid("compile_capitalised_adam_acc", COMPILE, compile_code('optimizer="Adam", loss="categorical_crossentropy", metrics=["acc"]')),
    valid("compile_loss_function_explicit_lr", COMPILE, compile_code(
        "optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.categorical_crossentropy, metrics=['categorical_accuracy']")),
    valid("compile_tf_keras_named_metric", COMPILE, compile_code(
        "optimizer=tf.keras.optimizers.Adam(), loss=tf.keras.losses.CategoricalCrossentropy(from_logits=False), "
        'metrics=[tf.keras.metrics.CategoricalAccuracy(name="accuracy")]', imports="import tensorflow as tf\n\n")),
    # --- compile_cnn: wrong ---
    wrong("compile_sparse_loss", COMPILE, compile_code('optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          note="the tutorial's loss, copied: it expects integer labels",
          test_compile_cnn_loss="which expects integer labels, but train_cnn gets one-hot labels"),
    wrong("compile_from_logits", COMPILE, compile_code(
        'optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"]'),
          test_compile_cnn_loss="from_logits=True, but the model ends in softmax"),
    wrong("compile_label_smoothing", COMPILE, compile_code(
        'optimizer="adam", loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"]'),
          test_compile_cnn_loss="label_smoothing=0.1"),
    wrong("compile_mse", COMPILE, compile_code('optimizer="adam", loss="mse", metrics=["accuracy"]'),
          test_compile_cnn_loss="The loss is mse"),
    wrong("compile_sgd", COMPILE, compile_code('optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_cnn_optimizer="The optimizer is SGD; the spec asks for Adam"),
    wrong("compile_adam_lr_0_01", COMPILE, compile_code(
        'optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_cnn_optimizer="Adam's learning_rate is 0.01; keep the default 0.001"),
    wrong("compile_sparse_accuracy", COMPILE, compile_code(
        'optimizer="adam", loss="categorical_crossentropy", metrics=[keras.metrics.SparseCategoricalAccuracy()]'),
          test_compile_cnn_metrics="SparseCategoricalAccuracy expects integer labels"),
    wrong("compile_exact_match_accuracy", COMPILE, compile_code(
        'optimizer="adam", loss="categorical_crossentropy", metrics=[keras.metrics.Accuracy()]'),
          test_compile_cnn_metrics="keras.metrics.Accuracy compares predicted values to labels exactly"),
    wrong("compile_binary_accuracy", COMPILE, compile_code('optimizer="adam", loss="categorical_crossentropy", metrics=["binary_accuracy"]'),
          test_compile_cnn_metrics="BinaryAccuracy scores each of the ten columns separately"),
    wrong("compile_without_metrics", COMPILE, compile_code('optimizer="adam", loss="categorical_crossentropy"'),
          test_compile_cnn_metrics="No metrics were given"),
    wrong("compile_nothing", COMPILE, """def compile_cnn(model):
    return model""",
          test_compile_cnn_done="The model is not compiled", test_compile_cnn_optimizer="The model is not compiled",
          test_compile_cnn_loss="The model is not compiled", test_compile_cnn_metrics="The model is not compiled"),
    # --- train_cnn: valid ---
    valid("train_keyword_arguments", TRAIN, train_code(
        "return model.fit(x=scaled_train_images, y=one_hot_train_labels, epochs=EPOCHS, validation_split=VALIDATION_SPLIT)")),
    valid("train_literals_and_batch_size", TRAIN, train_code(
        f"history = model.fit(scaled_train_images, one_hot_train_labels, batch_size=32, epochs={EPOCHS}, validation_split=0.1, "
        "shuffle=True, verbose=0)\n    return history")),
    valid("train_returns_model_history", TRAIN, train_code(
        f"model.fit(scaled_train_images, one_hot_train_labels, epochs={EPOCHS}, validation_split=0.1, verbose=2)\n    return model.history"),
          note="in Keras 3 model.history is the History that fit returned"),
    # --- train_cnn: wrong ---
    wrong("train_without_validation_split", TRAIN, train_code(f"return model.fit(scaled_train_images, one_hot_train_labels, epochs={EPOCHS})"),
          test_train_cnn_validation="model.fit got validation_split=0; pass validation_split=0.1"),
    wrong("train_validation_split_0_2", TRAIN, train_code(
        f"return model.fit(scaled_train_images, one_hot_train_labels, epochs={EPOCHS}, validation_split=0.2)"),
          test_train_cnn_validation="model.fit got validation_split=0.2"),
    wrong("train_default_epochs", TRAIN, train_code("return model.fit(scaled_train_images, one_hot_train_labels, validation_split=0.1)"),
          test_train_cnn_epochs=f"train_cnn trains for 1 epoch(s); the spec asks for epochs={EPOCHS}"),
    wrong("train_too_many_epochs", TRAIN, train_code(
        f"return model.fit(scaled_train_images, one_hot_train_labels, epochs={OTHER_EPOCHS}, validation_split=0.1)"),
          test_train_cnn_epochs=f"train_cnn trains for {OTHER_EPOCHS} epoch(s)"),
    wrong("train_on_integer_labels", TRAIN, train_code(
        f"return model.fit(scaled_train_images, train_labels, epochs={EPOCHS}, validation_split=0.1)"),
          note="the notebook's integer train_labels instead of the argument: the tutorial's habit",
          test_train_cnn_all_data="model.fit did not get the one_hot_train_labels argument"),
    wrong("train_validation_data_by_hand", TRAIN, train_code(
        "split = int(len(scaled_train_images) * 0.9)\n"
        "    return model.fit(scaled_train_images[:split], one_hot_train_labels[:split], epochs=EPOCHS,\n"
        "                     validation_data=(scaled_train_images[split:], one_hot_train_labels[split:]))"),
          note="holds back the same 10% by hand: the spec asks for validation_split",
          test_train_cnn_validation="model.fit got validation_split=0", test_train_cnn_all_data="model.fit got 54000 training images of the 60000 given"),
    wrong("train_steps_per_epoch", TRAIN, train_code(
        f"return model.fit(scaled_train_images, one_hot_train_labels, epochs={EPOCHS}, validation_split=0.1, steps_per_epoch=100)"),
          test_train_cnn_all_data="model.fit(steps_per_epoch=100) trains on 3200 of the 54000 training images an epoch"),
    wrong("train_returns_history_dict", TRAIN, train_code(
        f"return model.fit(scaled_train_images, one_hot_train_labels, epochs={EPOCHS}, validation_split=0.1).history"),
          test_train_cnn_history="train_cnn returned dict; return the History object"),
    # --- confusion_per_class: valid ---
    valid("confusion_tf_math", CONFUSION, confusion_code(
        "counts = tf.math.confusion_matrix(true_labels, predicted_labels, num_classes=10).numpy()\n"
        "    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)", imports="import tensorflow as tf\n\n")),
    valid("confusion_bincount", CONFUSION, confusion_code(
        "counts = np.bincount(np.asarray(true_labels) * 10 + np.asarray(predicted_labels), minlength=100).reshape(10, 10)\n"
        "    totals = counts.sum(axis=1, keepdims=True)\n"
        "    return counts / np.where(totals == 0, 1, totals)")),
    valid("confusion_nan_to_num", CONFUSION, confusion_code(
        COUNTS + "with np.errstate(invalid='ignore'):\n        return np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))"),
          note="what scikit-learn's confusion_matrix(normalize='true') does"),
    valid("confusion_pandas_crosstab", CONFUSION, confusion_code(
        "table = pd.crosstab(pd.Categorical(true_labels, categories=range(10)), pd.Categorical(predicted_labels, categories=range(10)),\n"
        "                        dropna=False, normalize='index')\n"
        "    return table.fillna(0).to_numpy()", imports="import pandas as pd\n\n")),
    valid("confusion_loops", CONFUSION, """def confusion_per_class(true_labels, predicted_labels):
    matrix = [[0.0] * 10 for _ in range(10)]
    for true, predicted in zip(true_labels, predicted_labels):
        matrix[true][predicted] += 1
    for row in matrix:
        total = sum(row)
        if total:
            row[:] = [count / total for count in row]
    return np.array(matrix)"""),
    # --- confusion_per_class: wrong ---
    wrong("confusion_counts", CONFUSION, confusion_code(COUNTS + "return counts"),
          test_confusion_rows="the rows hold counts: divide each row by its sum"),
    wrong("confusion_transposed", CONFUSION, confusion_code(
        "counts = np.zeros((10, 10))\n    np.add.at(counts, (predicted_labels, true_labels), 1)\n"
        "    totals = counts.sum(axis=1, keepdims=True)\n    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)"),
          test_confusion_values="The rows follow the predicted digits"),
    wrong("confusion_per_predicted_column", CONFUSION, confusion_code(
        COUNTS + "totals = counts.sum(axis=0, keepdims=True)\n    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)"),
          test_confusion_rows="each column sums to 1, which normalises per predicted digit",
          test_confusion_values="Each entry is divided by its column's total"),
    wrong("confusion_over_all_images", CONFUSION, confusion_code(COUNTS + "return counts / len(true_labels)"),
          test_confusion_rows="the whole matrix sums to 1"),
    wrong("confusion_percentages", CONFUSION, confusion_code(
        COUNTS + "totals = counts.sum(axis=1, keepdims=True)\n    return 100 * np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)"),
          test_confusion_rows="the rows sum to 100"),
    wrong("confusion_nan_rows", CONFUSION, confusion_code(COUNTS + "return counts / counts.sum(axis=1, keepdims=True)"),
          note="right wherever every digit occurs, as on the MNIST test set",
          test_confusion_absent_class="Row 9 is [nan"),
    wrong("confusion_uniform_absent_rows", CONFUSION, confusion_code(
        COUNTS + "totals = counts.sum(axis=1, keepdims=True)\n    totals[totals == 0] = 1\n    matrix = counts / totals\n"
        "    matrix[matrix.sum(axis=1) == 0] = 0.1\n    return matrix"),
          test_confusion_absent_class="but no true label is 9; leave the row of a digit that never occurs all zeros"),
    wrong("confusion_tf_without_num_classes", CONFUSION, confusion_code(
        "counts = tf.math.confusion_matrix(true_labels, predicted_labels).numpy()\n"
        "    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)", imports="import tensorflow as tf\n\n"),
          note="sized by the largest label seen: 9x9 when no label is a 9",
          test_confusion_shape="returned shape (9, 9) for labels without any 9", test_confusion_absent_class="returned shape (9, 9)"),
    wrong("confusion_of_global_predictions", CONFUSION, confusion_code(
        "counts = np.zeros((10, 10))\n    np.add.at(counts, (test_labels, predicted), 1)\n    return counts / counts.sum(axis=1, keepdims=True)"),
          note="the notebook's own variables instead of the arguments: 'predicted' does not exist before the evaluation cell",
          test_confusion_shape="name 'predicted' is not defined", test_confusion_rows="name 'predicted' is not defined",
          test_confusion_values="name 'predicted' is not defined", test_confusion_absent_class="name 'predicted' is not defined"),
]
