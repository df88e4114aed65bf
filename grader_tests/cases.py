"""Student answers, one function each, written the way students write them, and what grading must do with them.

A wrong answer names the test cells it must lose, each with a fragment of the message the student must see.
A valid answer loses nothing. `test_cases.py` runs the notebook's own test cells (hidden ones included)
against each answer, without training; `test_cases_autograded.py` runs a few of them through `course grade`.

Each case is plain data (the function's source code, the cells it loses and a note), so the same answers can also
be run through the sandboxed harness and the verifier. Many come from real student answers that were once graded
wrong (issue 16): a valid spelling that lost points, or a wrong answer that passed. The note says why a case is
valid or wrong where that was a decision; course/assignments/mnist_cnn/hidden_checks.py lists the decisions about layer options.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    function: str
    code: str
    loses: dict[str, str] = field(default_factory=dict)  # test cell -> message fragment
    note: str = ""  # why the answer is valid or wrong, where that was a decision

    @property
    def valid(self) -> bool:
        return not self.loses


def wrong(name, function, code, note="", **loses):
    return Case(name, function, code, loses, note)


def valid(name, function, code, note=""):
    return Case(name, function, code, note=note)


SCALE = "scale_mnist_data"
MODEL = "get_model"
COMPILE = "compile_model"
TRAIN = "train_model"
EVALUATE = "evaluate_model"


def model_code(*layers: str, imports: str = "") -> str:
    body = ",\n        ".join(layers)
    return f"""{imports}def get_model(input_shape):
    return Sequential([
        {body},
    ])"""


SPEC_TAIL = ('MaxPooling2D((2, 2))', "Flatten()", 'Dense(64, activation="relu")', 'Dense(64, activation="relu")', 'Dense(10, activation="softmax")')
SPEC_CONV = 'Conv2D(8, (3, 3), padding="same", activation="relu", input_shape=input_shape)'


def compile_code(arguments: str, imports: str = "") -> str:
    return f"""{imports}def compile_model(model):
    model.compile({arguments})"""


def train_code(body: str) -> str:
    return f"""def train_model(model, scaled_train_images, train_labels):
    {body}"""


def evaluate_code(body: str) -> str:
    return f"""def evaluate_model(model, scaled_test_images, test_labels):
    {body}"""


def scale_code(body: str) -> str:
    return f"""def scale_mnist_data(train_images, test_images):
    {body}"""


CASES = [
    # --- scale_mnist_data: wrong ---
    wrong("scale_divides_by_256", SCALE, scale_code("return train_images / 256, test_images / 256"),
          test_scale_range="divide by 255"),
    wrong("scale_divides_by_100", SCALE, scale_code("return train_images / 100, test_images / 100"),
          test_scale_range="reach 2.55"),
    wrong("scale_standardises", SCALE, scale_code(
        "mean, std = train_images.mean(), train_images.std()\n    return (train_images - mean) / std, (test_images - mean) / std"),
          test_scale_range="without subtracting a mean"),
    wrong("scale_swaps_outputs", SCALE, scale_code("return test_images / 255, train_images / 255"),
          test_scale_order="The outputs are swapped"),
    wrong("scale_integer_division", SCALE, scale_code("return train_images // 255, test_images // 255"),
          test_scale_dtype="divide with / (not //)", test_scale_range="not the pixels divided by 255"),
    wrong("scale_forgets_test_images", SCALE, scale_code("return train_images / 255.0, test_images"),
          test_scale_range="The scaled test images reach 255", test_scale_dtype="The scaled test images have dtype uint8"),
    wrong("scale_returns_only_train", SCALE, scale_code("return train_images / 255.0"),
          test_scale_pair="return a tuple", test_scale_range="return a tuple", test_scale_dtype="return a tuple",
          test_scale_order="return a tuple"),
    # --- scale_mnist_data: valid ---
    valid("scale_float32_astype", SCALE, scale_code(
        'return train_images.astype("float32") / 255.0, test_images.astype("float32") / 255.0')),
    valid("scale_min_max_list", SCALE, scale_code(
        "lo, hi = train_images.min(), train_images.max()\n    return [(train_images - lo) / (hi - lo), (test_images - lo) / (hi - lo)]")),
    valid("scale_np_divide_float64", SCALE, scale_code("return np.divide(train_images, 255.0), np.divide(test_images, 255.0)")),
    # --- get_model: wrong ---
    wrong("model_16_filters", MODEL, model_code('Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="Conv2D has 16 filters; the spec asks for 8"),
    wrong("model_5x5_kernel", MODEL, model_code('Conv2D(8, (5, 5), padding="same", activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="(5, 5) kernel; the spec asks for 3x3"),
    wrong("model_valid_padding", MODEL, model_code('Conv2D(8, (3, 3), activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="padding='valid'; the spec asks for 'SAME'"),
    wrong("model_conv_stride_2", MODEL, model_code('Conv2D(8, (3, 3), strides=2, padding="same", activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="keep the default stride 1"),
    wrong("model_conv_without_activation", MODEL, model_code('Conv2D(8, (3, 3), padding="same", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="Conv2D uses a linear (none) activation; the spec asks for ReLU"),
    wrong("model_pool_stride_1", MODEL, model_code(SPEC_CONV, "MaxPooling2D((2, 2), strides=1)", *SPEC_TAIL[1:]),
          test_model_pool="keep the default strides"),
    wrong("model_average_pooling", MODEL, model_code(SPEC_CONV, "tf.keras.layers.AveragePooling2D((2, 2))", *SPEC_TAIL[1:]),
          test_model_layers="Layer 2 is AveragePooling2D", test_model_pool="no MaxPooling2D layer"),
    wrong("model_extra_dropout", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:3], "tf.keras.layers.Dropout(0.2)", *SPEC_TAIL[3:]),
          test_model_layers="The model has 7 layers"),
    wrong("model_missing_second_dense", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:3], SPEC_TAIL[4]),
          test_model_layers="The model has 5 layers", test_model_dense="The model has 2 Dense layers"),
    wrong("model_output_without_softmax", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:4], "Dense(10)"),
          test_model_dense="Dense layer 3 uses a linear (none) activation; the spec asks for softmax"),
    wrong("model_sigmoid_hidden", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:2], 'Dense(64, activation="sigmoid")', 'Dense(64, activation="sigmoid")', SPEC_TAIL[4]),
          test_model_dense="Dense layer 1 uses a sigmoid activation; the spec asks for relu"),
    wrong("model_128_units", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:2], 'Dense(128, activation="relu")', 'Dense(128, activation="relu")', SPEC_TAIL[4]),
          test_model_dense="Dense layer 1 has 128 units; the spec asks for 64"),
    wrong("model_hardcoded_input_shape", MODEL, model_code('Conv2D(8, (3, 3), padding="same", activation="relu", input_shape=(28, 28, 1))', *SPEC_TAIL),
          test_model_input_shape="use the input_shape argument instead of a fixed (28, 28, 1)"),
    # --- get_model: valid ---
    valid("model_maxpool2d_alias_lowercase_same", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", activation="relu", input_shape=input_shape)', "tf.keras.layers.MaxPool2D((2, 2))", *SPEC_TAIL[1:])),
    valid("model_built_with_add", MODEL, """def get_model(input_shape):
    model = Sequential()
    model.add(Conv2D(8, (3, 3), padding="SAME", activation="relu", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model"""),
    valid("model_plain_keras_with_input", MODEL, """import keras

def get_model(input_shape):
    return keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(8, 3, padding="SAME", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])"""),
    valid("model_activation_functions", MODEL, model_code(
        "Conv2D(8, kernel_size=(3, 3), padding='SAME', activation=tf.nn.relu, input_shape=input_shape)",
        "MaxPooling2D(pool_size=(2, 2))", "Flatten()", "Dense(64, activation=tf.nn.relu)",
        "Dense(64, activation=tf.keras.activations.relu)", "Dense(10, activation=tf.nn.softmax)")),
    # --- get_model: real student patterns (issue 16) ---
    wrong("model_conv_channels_first", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", activation="relu", data_format="channels_first", input_shape=input_shape)', *SPEC_TAIL),
          note="reads the 28 rows as channels: a different convolution, though the model still builds",
          test_model_conv="Conv2D has data_format='channels_first', which reads the first image axis as the channels"),
    wrong("model_conv_dilated", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", dilation_rate=2, activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          test_model_conv="Conv2D has dilation_rate (2, 2), which spreads its kernel over a wider window"),
    wrong("model_conv_without_bias", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", use_bias=False, activation="relu", input_shape=input_shape)', *SPEC_TAIL),
          note="decision: no bias is a different layer (72 parameters, not 80)",
          test_model_conv="Conv2D has use_bias=False; keep the default use_bias=True"),
    wrong("model_conv_frozen", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", activation="relu", trainable=False, input_shape=input_shape)', *SPEC_TAIL),
          note="decision: fit would never train the convolution",
          test_model_conv="Conv2D has trainable=False, so fit never changes its weights"),
    wrong("model_pool_channels_first", MODEL, model_code(SPEC_CONV, 'MaxPooling2D((2, 2), data_format="channels_first")', *SPEC_TAIL[1:]),
          test_model_pool="MaxPooling2D has data_format='channels_first'"),
    wrong("model_dense_without_bias", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:2], 'Dense(64, activation="relu", use_bias=False)', *SPEC_TAIL[3:]),
          test_model_dense="Dense layer 1 has use_bias=False"),
    wrong("model_separate_relu_layers", MODEL, """from tensorflow.keras.layers import ReLU

def get_model(input_shape):
    return Sequential([
        Conv2D(8, (3, 3), padding="same", input_shape=input_shape),
        ReLU(),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64),
        ReLU(),
        Dense(64),
        ReLU(),
        Dense(10, activation="softmax"),
    ])""",
          note="computes the spec's function, but the spec asks for six layers with the activation inside each: "
               "only the layer check fails, and the Conv2D and Dense checks count the ReLU layers",
          test_model_layers="ReLU is a separate activation layer: give the activation to the layer itself instead"),
    wrong("model_activation_layers", MODEL, """from tensorflow.keras.layers import Activation

def get_model(input_shape):
    model = Sequential()
    model.add(Conv2D(8, (3, 3), padding="same", input_shape=input_shape))
    model.add(MaxPooling2D((2, 2)))
    model.add(Activation("relu"))
    model.add(Flatten())
    model.add(Dense(64))
    model.add(Activation("relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    return model""",
          note="ReLU after the pooling is not the Conv2D's activation (max-pooling and ReLU commute, but the spec puts ReLU "
               "in the Conv2D), so the conv check fails too",
          test_model_layers="Activation is a separate activation layer",
          test_model_conv="Conv2D uses a linear (none) activation; the spec asks for ReLU"),
    wrong("model_softmax_layer", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:4], "Dense(10)", "tf.keras.layers.Softmax()"),
          test_model_layers="Softmax is a separate activation layer"),
    wrong("model_prelu_hidden", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:2], "Dense(64)", "tf.keras.layers.PReLU()", *SPEC_TAIL[3:]),
          note="PReLU learns its negative slope: not ReLU",
          test_model_layers="The model has 7 layers", test_model_dense="Dense layer 1 uses a linear (none) activation"),
    valid("model_keras2_imports_maxpool2d", MODEL, """from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Conv2D, MaxPool2D, Flatten, Dense

def get_model(input_shape):
    model = Sequential([
        Conv2D(filters=8, kernel_size=3, padding='same', activation='relu', input_shape=input_shape),
        MaxPool2D(pool_size=2),
        Flatten(),
        Dense(units=64, activation='relu'),
        Dense(units=64, activation='relu'),
        Dense(units=10, activation='softmax'),
    ])
    return model"""),
    valid("model_keras_activations_functions", MODEL, """import keras

def get_model(input_shape):
    model = keras.models.Sequential()
    model.add(keras.layers.Input(shape=input_shape))
    model.add(keras.layers.Conv2D(8, (3, 3), padding="same", activation=keras.activations.relu))
    model.add(keras.layers.MaxPool2D((2, 2)))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(64, activation=keras.activations.relu))
    model.add(keras.layers.Dense(64, activation=tf.keras.activations.relu))
    model.add(keras.layers.Dense(10, activation=keras.activations.softmax))
    return model"""),
    valid("model_input_layer", MODEL, model_code(
        "tf.keras.layers.InputLayer(shape=input_shape)", 'Conv2D(8, (3, 3), padding="same", activation="relu")', *SPEC_TAIL)),
    valid("model_explicit_defaults", MODEL, model_code(
        'Conv2D(8, (3, 3), strides=(1, 1), padding="same", data_format="channels_last", dilation_rate=(1, 1), groups=1, '
        'use_bias=True, activation="relu", input_shape=input_shape)',
        'MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid", data_format="channels_last")',
        'Flatten(data_format="channels_last")', 'Dense(64, activation="relu", use_bias=True)', 'Dense(64, activation="relu", use_bias=True)',
        'Dense(10, activation="softmax", use_bias=True)')),
    valid("model_harmless_options", MODEL, model_code(
        'Conv2D(8, (3, 3), padding="same", activation="relu", name="conv", kernel_initializer="he_normal", '
        'bias_initializer="zeros", kernel_regularizer=tf.keras.regularizers.l2(1e-4), input_shape=input_shape)',
        'MaxPooling2D((2, 2), name="pool")', 'Flatten(name="flatten")',
        'Dense(64, activation="relu", kernel_initializer=tf.keras.initializers.HeNormal(seed=1), bias_constraint=tf.keras.constraints.MaxNorm(3))',
        'Dense(64, activation="relu", dtype="float64", activity_regularizer="l2")',
        'Dense(10, activation="softmax", name="output")'),
          note="decision: names, initializers, regularizers, constraints and dtype leave what each layer computes unchanged"),
    valid("model_flatten_channels_first", MODEL, model_code(SPEC_CONV, SPEC_TAIL[0], 'Flatten(data_format="channels_first")', *SPEC_TAIL[2:]),
          note="decision: reorders the 1568 features before a fully connected layer, which learns the same function either way"),
    wrong("model_dense_lora", MODEL, model_code(SPEC_CONV, *SPEC_TAIL[:2], 'Dense(64, activation="relu", lora_rank=4)', *SPEC_TAIL[3:]),
          test_model_dense="Dense layer 1 has LoRA enabled (lora_rank=4), which freezes its kernel"),
    valid("model_pool_same_padding", MODEL, model_code(SPEC_CONV, 'MaxPooling2D((2, 2), padding="same")', *SPEC_TAIL[1:]),
          note="decision: on the even-sized inputs of this assignment 'same' pooling gives exactly the 'valid' output"),
    # --- compile_model: wrong ---
    wrong("compile_sgd", COMPILE, compile_code('optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_optimizer="The optimizer is SGD; the spec asks for Adam"),
    wrong("compile_adam_lr_0_01", COMPILE, compile_code(
        'optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_optimizer="Adam's learning_rate is 0.01; keep the default 0.001"),
    wrong("compile_categorical_crossentropy", COMPILE, compile_code('optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_loss="The loss is categorical_crossentropy; the labels are integers 0-9"),
    wrong("compile_mse_loss", COMPILE, compile_code('optimizer="adam", loss="mse", metrics=["accuracy"]'),
          test_compile_loss="The loss is mse"),
    wrong("compile_from_logits_with_softmax", COMPILE, compile_code(
        'optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]'),
          test_compile_loss="from_logits=True, but the model ends in softmax"),
    wrong("compile_without_metrics", COMPILE, compile_code('optimizer="adam", loss="sparse_categorical_crossentropy"'),
          test_compile_metrics="No metrics were given"),
    wrong("compile_positional_metrics", COMPILE, compile_code('"adam", "sparse_categorical_crossentropy", ["accuracy"]'),
          test_compile_metrics="compile's third positional argument is loss_weights"),
    wrong("compile_extra_metric", COMPILE, compile_code('optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy", "mae"]'),
          test_compile_metrics="accuracy as the only metric"),
    # --- compile_model: real student patterns (issue 16) ---
    wrong("compile_exact_match_accuracy", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[tf.keras.metrics.Accuracy()]'),
          note="passed before: Accuracy() is named 'accuracy' but compares predictions to labels exactly",
          test_compile_metrics="keras.metrics.Accuracy compares predicted values to labels exactly; for class probabilities use metrics=['accuracy'] or SparseCategoricalAccuracy"),
    wrong("compile_exact_match_accuracy_named", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[keras.metrics.Accuracy(name="accuracy")]',
        imports="import keras\n\n"),
          test_compile_metrics="keras.metrics.Accuracy compares predicted values to labels exactly"),
    wrong("compile_categorical_accuracy_function", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[keras.metrics.categorical_accuracy]', imports="import keras\n\n"),
          test_compile_metrics="keras.metrics.CategoricalAccuracy expects one-hot labels"),
    wrong("compile_categorical_accuracy_named_accuracy", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[tf.keras.metrics.CategoricalAccuracy(name="accuracy")]'),
          note="a name does not change what a metric computes",
          test_compile_metrics="keras.metrics.CategoricalAccuracy expects one-hot labels, but the labels are integers 0-9"),
    wrong("compile_categorical_accuracy_string", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["categorical_accuracy"]'),
          test_compile_metrics="keras.metrics.CategoricalAccuracy expects one-hot labels"),
    wrong("compile_top5_accuracy", COMPILE, compile_code(
        'optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_top_k_categorical_accuracy"]'),
          test_compile_metrics="The metric is sparse_top_k_categorical_accuracy; use metrics=['accuracy']"),
    wrong("compile_metrics_bare_string", COMPILE, compile_code('optimizer="adam", loss="sparse_categorical_crossentropy", metrics="accuracy"'),
          note="Keras 3 refuses a bare string: compile raises, so every compile cell fails with Keras' message",
          test_compile_done="Expected `metrics` argument to be a list, tuple, or dict",
          test_compile_optimizer="Expected `metrics` argument to be a list, tuple, or dict",
          test_compile_loss="Expected `metrics` argument to be a list, tuple, or dict",
          test_compile_metrics="Expected `metrics` argument to be a list, tuple, or dict"),
    wrong("compile_keras2_lr_argument", COMPILE, compile_code(
        'optimizer=tf.keras.optimizers.Adam(lr=0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          note="lr= was Keras 2; Keras 3 raises, so compile_model fails and every compile cell with it",
          test_compile_done="Argument(s) not recognized: {'lr': 0.001}",
          test_compile_optimizer="Argument(s) not recognized: {'lr': 0.001}",
          test_compile_loss="Argument(s) not recognized: {'lr': 0.001}",
          test_compile_metrics="Argument(s) not recognized: {'lr': 0.001}"),
    wrong("compile_amsgrad", COMPILE, compile_code(
        'optimizer=tf.keras.optimizers.Adam(amsgrad=True), loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_optimizer="Adam's amsgrad is True; keep the default False"),
    wrong("compile_adam_clipnorm", COMPILE, compile_code(
        'optimizer=tf.keras.optimizers.Adam(clipnorm=1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_optimizer="Adam's clipnorm is 1.0; keep the default None"),
    wrong("compile_adam_schedule", COMPILE, compile_code(
        "optimizer=tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.ExponentialDecay(0.001, 1000, 0.9)), "
        'loss="sparse_categorical_crossentropy", metrics=["accuracy"]'),
          test_compile_optimizer="Adam's learning_rate is a schedule (ExponentialDecay); keep the constant default 0.001"),
    wrong("compile_loss_ignore_class", COMPILE, compile_code(
        'optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(ignore_class=0), metrics=["accuracy"]'),
          test_compile_loss="ignore_class=0, so it skips every image of that digit"),
    wrong("compile_categorical_loss_named_sparse", COMPILE, compile_code(
        'optimizer="adam", loss=tf.keras.losses.CategoricalCrossentropy(name="sparse_categorical_crossentropy"), metrics=["accuracy"]'),
          test_compile_loss="The loss is CategoricalCrossentropy; the labels are integers 0-9"),
    # --- compile_model: valid ---
    valid("compile_objects", COMPILE, compile_code(
        "optimizer=tf.keras.optimizers.Adam(), loss=tf.keras.losses.SparseCategoricalCrossentropy(), "
        "metrics=[tf.keras.metrics.SparseCategoricalAccuracy()]")),
    valid("compile_capitalised_adam_acc", COMPILE, compile_code('optimizer="Adam", loss="sparse_categorical_crossentropy", metrics=["acc"]')),
    valid("compile_loss_function_explicit_lr", COMPILE, compile_code(
        "optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3), loss=tf.keras.losses.sparse_categorical_crossentropy, "
        'metrics=["sparse_categorical_accuracy"]')),
    valid("compile_keras_objects_named_metric", COMPILE, compile_code(
        "optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(), "
        'metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")]', imports="import keras\n\n")),
    valid("compile_keras2_adam_learning_rate_tuple", COMPILE, compile_code(
        'optimizer=tf.keras.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy", metrics=("accuracy",)')),
    valid("compile_class_name_strings", COMPILE, compile_code(
        'optimizer="Adam", loss="SparseCategoricalCrossentropy", metrics=["SparseCategoricalAccuracy"]')),
    valid("compile_keras_functions", COMPILE, compile_code(
        "optimizer=keras.optimizers.Adam(), loss=keras.losses.sparse_categorical_crossentropy, "
        "metrics=[keras.metrics.sparse_categorical_accuracy]", imports="import keras\n\n")),
    valid("compile_sparse_accuracy_named_acc", COMPILE, compile_code(
        'optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False), '
        'metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="acc")]')),
    # --- train_model: wrong ---
    wrong("train_3_epochs", TRAIN, train_code("return model.fit(scaled_train_images, train_labels, epochs=3)"),
          test_train_epochs="trains for 3 epoch(s); the spec asks for epochs=5"),
    wrong("train_default_epochs", TRAIN, train_code("return model.fit(scaled_train_images, train_labels)"),
          test_train_epochs="trains for 1 epoch(s)"),
    wrong("train_on_3000_images", TRAIN, train_code("return model.fit(scaled_train_images[:3000], train_labels[:3000], epochs=5)"),
          test_train_all_data="model.fit got 3000 training images of the 60000 given"),
    wrong("train_returns_model", TRAIN, train_code("model.fit(scaled_train_images, train_labels, epochs=5)\n    return model"),
          test_train_history="return the History object"),
    wrong("train_returns_history_dict", TRAIN, train_code("return model.fit(scaled_train_images, train_labels, epochs=5).history"),
          test_train_history="train_model returned dict"),
    # --- train_model: real student patterns (issue 16) ---
    wrong("train_returns_model_history_dict", TRAIN, train_code(
        "model.fit(scaled_train_images, train_labels, epochs=5)\n    return model.history.history"),
          test_train_history="train_model returned dict"),
    wrong("train_steps_per_epoch", TRAIN, train_code(
        "return model.fit(scaled_train_images, train_labels, epochs=5, steps_per_epoch=100)"),
          note="100 batches of 32 an epoch: 3200 of the 60000 images",
          test_train_all_data="model.fit(steps_per_epoch=100) trains on 3200 of the 60000 images an epoch"),
    valid("train_returns_model_history", TRAIN, train_code(
        "model.fit(scaled_train_images, train_labels, epochs=5)\n    return model.history"),
          note="lost 3 points before: in Keras 3 model.history is the History that fit returned"),
    valid("train_extra_harmless_arguments", TRAIN, train_code(
        "history = model.fit(scaled_train_images, train_labels, epochs=5, verbose=2, batch_size=32, shuffle=True)\n"
        "    return history")),
    valid("train_steps_per_epoch_covering_all", TRAIN, train_code(
        "return model.fit(scaled_train_images, train_labels, batch_size=64, epochs=5, steps_per_epoch=len(train_labels) // 64 + 1)")),
    # --- train_model: valid ---
    valid("train_batch_size_quiet", TRAIN, train_code("return model.fit(scaled_train_images, train_labels, epochs=5, batch_size=64, verbose=0)")),
    valid("train_validation_split", TRAIN, train_code("return model.fit(scaled_train_images, train_labels, epochs=5, validation_split=0.1)")),
    valid("train_keyword_arguments", TRAIN, train_code(
        "history = model.fit(x=scaled_train_images, y=train_labels, epochs=5, verbose=2)\n    return history")),
    # --- evaluate_model: wrong ---
    wrong("evaluate_swapped", EVALUATE, evaluate_code(
        "loss, accuracy = model.evaluate(scaled_test_images, test_labels)\n    return accuracy, loss"),
          test_evaluate_matches="The values are swapped"),
    wrong("evaluate_returns_accuracy_only", EVALUATE, evaluate_code("return model.evaluate(scaled_test_images, test_labels)[1]"),
          test_evaluate_pair="evaluate_model returned float", test_evaluate_matches="evaluate_model returned float"),
    wrong("evaluate_on_training_data", EVALUATE, evaluate_code(
        "test_loss, test_accuracy = model.evaluate(scaled_train_images, train_labels, verbose=0)\n"
        "    return test_loss, test_accuracy"),
          test_evaluate_matches="evaluate on the arguments"),
    wrong("evaluate_returns_dict", EVALUATE, evaluate_code("return model.evaluate(scaled_test_images, test_labels, return_dict=True)"),
          test_evaluate_pair="evaluate_model returned dict of length 2", test_evaluate_matches="evaluate_model returned dict"),
    # --- evaluate_model: valid ---
    valid("evaluate_return_dict_unpacked", EVALUATE, evaluate_code(
        "results = model.evaluate(scaled_test_images, test_labels, return_dict=True, verbose=0)\n"
        "    return results['loss'], results['accuracy']")),
    valid("evaluate_batch_size_list", EVALUATE, evaluate_code(
        "test_loss, test_accuracy = model.evaluate(scaled_test_images, test_labels, batch_size=256, verbose=0)\n"
        "    return [test_loss, test_accuracy]")),
]
