"""A model the user brings: checked as a hostile file, loaded from memory, made explainable.

A `.keras` file is a zip holding `config.json` (the architecture: which classes to build), the
weights (`model.weights.h5`) and `metadata.json`. Keras turns `config.json` into Python objects,
so a file can carry code (a Lambda layer's pickled function, a custom class to import). The checks
run in an order where each one needs only what the previous ones let through:

1. the size of the upload, before its bytes are read (`check_upload_size`);
2. the zip's directory: a renamed JPEG, an HDF5 `.h5`, a truncated zip, a zip bomb (declared
   uncompressed sizes and ratios, before anything is decompressed), unexpected members;
3. `config.json` alone, as JSON: every class it names must be a built-in Keras class; Lambda
   layers, code-wrapping layers and custom classes are refused by name before deserialisation;
4. the architecture built without allocating its weights (`keras.StatelessScope` defers every
   variable): one image input of a sane size, one output vector, a parameter count in bounds;
5. the real load, `safe_mode=True`, from an in-memory file object: nothing is written to disk;
6. one timed prediction.

Legacy HDF5 (`.h5`) models are refused, not loaded: Keras 3 reads them with a separate legacy
loader whose config is not the one checked here; the message says how to re-save as `.keras`.

The accepted model is wrapped so that it ends, like the shipped models, in its pre-softmax scores
followed by `Activation("softmax", name="probabilities")`: Grad-CAM then explains the logits
whether the user's model ends in a softmax (the softmax is peeled off) or in logits (a softmax is
added for the probabilities).
"""

from __future__ import annotations

import io
import json
import math
import os
import time
import zipfile
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from vision.errors import ModelFileError, UnsafeModelError  # noqa: E402

# Keras is imported inside the functions that need it: the pages import this module for its
# constants and picture helpers, and a page must not load TensorFlow.

MAX_FILE_BYTES = 50 * 2**20
MAX_CONFIG_BYTES = 4 * 2**20
MAX_UNCOMPRESSED_BYTES = 200 * 2**20   # Keras stores members uncompressed: 4x the file is plenty
MAX_COMPRESSION_RATIO = 20             # weights are float noise: they barely compress
MAX_PARAMETERS = 30_000_000            # 120 MB of float32; MobileNetV2 has 3.5 M
MAX_SIDE, MIN_SIDE = 512, 8            # input height and width, in pixels
MAX_CLASSES = 10_000
MAX_PREDICT_SECONDS = 3.0
MAX_GIGAFLOPS = 30.0                   # one image; MobileNetV2 at 224 is 0.6, ResNet50 8
MAX_LABEL_BYTES = 1 * 2**20
MAX_CONFIG_OBJECTS = 50_000            # classes named in config.json; MobileNetV2 names about 800
KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
ZIP_SIGNATURE, HDF5_SIGNATURE = b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"
_IMAGE_SIGNATURES = {b"\xff\xd8\xff": "a JPEG image", b"\x89PNG": "a PNG image",
                     b"GIF8": "a GIF image", b"BM": "a BMP image"}

# Public Keras namespaces whose classes config.json may name; a class must exist there.
_NAMESPACES = {"keras.layers": "layers", "keras.initializers": "initializers",
               "keras.regularizers": "regularizers", "keras.constraints": "constraints"}
_MODEL_CLASSES = {("keras", "Sequential"), ("keras.src.models.functional", "Functional"),
                  ("keras", "Functional"), ("keras", "Model"), ("keras.models", "Sequential")}
_KERAS_OBJECTS = {("keras", "DTypePolicy"), ("keras", "FloatDTypePolicy"),
                  ("keras", "QuantizedDTypePolicy"), ("keras", "QuantizedFloat8DTypePolicy")}
_DATA_MARKERS = {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__",
                 "__slice__", "__typespec__"}
# Built-in layers that run code or read files given in their config.
_CODE_LAYERS = {"Lambda", "TFSMLayer", "JaxLayer", "FlaxLayer", "TorchModuleWrapper"}
_SOFTMAX = ("softmax",)
_WEIGHTED = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv1D", "Dense")

INPUT_KINDS = {
    "fashion": "28x28 grey, as Fashion-MNIST (a light item on black)",
    "doodle": "28x28 doodle (white strokes on black, as Quick, Draw!)",
    "photo": "RGB photo at the model's input size",
}
# pixel scale name -> (multiply, add) applied to 0-255 pixels
PIXEL_SCALES = {"0-1": (1 / 255.0, 0.0), "0-255": (1.0, 0.0), "-1..1": (1 / 127.5, -1.0)}


# ---------------------------------------------------------------- the file
def check_upload_size(size: int) -> None:
    """Refuse a file over the limit from its size alone, before its bytes are read."""
    if size <= 0:
        raise ModelFileError("The model file is empty. Save your model with "
                             "`model.save('my_model.keras')` and upload that file.")
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"This model file is too big ({size / 2**20:.0f} MB); the limit is "
            f"{MAX_FILE_BYTES // 2**20} MB. Try a smaller model (fewer or narrower layers).")


def check_archive(data: bytes, file_name: str = "model.keras") -> dict:
    """Checks 1-3 on the raw bytes: size, container, zip directory and config.json.

    Returns:
        The parsed config.json (compile settings dropped: the model is loaded uncompiled).
    Raises:
        ModelFileError: not a `.keras` file, legacy HDF5, damaged, a zip bomb.
        UnsafeModelError: the config names a Lambda layer or a class Keras does not ship.
    """
    check_upload_size(len(data))
    if data.startswith(HDF5_SIGNATURE) or file_name.lower().endswith((".h5", ".hdf5")):
        raise ModelFileError(
            "Legacy HDF5 (.h5) models are not accepted: only the Keras 3 format can be checked "
            "before it is loaded. Open it in Python and save it again with "
            "`model.save('my_model.keras')`, then upload the .keras file.")
    kind = next((name for sig, name in _IMAGE_SIGNATURES.items() if data.startswith(sig)), None)
    if kind:
        raise ModelFileError(f"This file is {kind}, not a Keras model (only its name ends in "
                             "'.keras'). Upload the file written by `model.save('my_model.keras')`.")
    if not data.startswith(ZIP_SIGNATURE):
        raise ModelFileError("This file is not a Keras model: a .keras file is a zip archive "
                             "written by `model.save('my_model.keras')`.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        raise ModelFileError("This model file is damaged or incomplete (the zip archive cannot "
                             "be read). Upload it again, or save the model again.") from err
    with archive:
        _check_members(members)
        try:
            config = json.loads(archive.read("config.json"))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RecursionError) as err:
            raise ModelFileError("This model file is damaged: its config.json cannot be read. "
                                 "Save the model again and upload the new file.") from err
    if not isinstance(config, dict):
        raise ModelFileError("This model file's config.json does not describe a model.")
    config.pop("compile_config", None)  # loaded with compile=False: never deserialised
    check_config(config)
    return config


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    names = {member.filename for member in members}
    if not {"config.json", "model.weights.h5"} <= names:
        raise ModelFileError("This zip file is not a Keras model: it has no config.json and "
                             "model.weights.h5. Save the model with `model.save('my_model.keras')`.")
    extra = sorted(names - KERAS_MEMBERS)
    if extra:  # assets would be extracted to a temporary folder on disk
        raise ModelFileError(
            "This model file holds more than a model (" + ", ".join(extra[:5]) + "): only "
            "config.json, metadata.json and model.weights.h5 are accepted.")
    total = 0
    for member in members:
        limit = MAX_CONFIG_BYTES if member.filename.endswith(".json") else MAX_UNCOMPRESSED_BYTES
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limit or (member.file_size > 2**20 and ratio > MAX_COMPRESSION_RATIO):
            raise ModelFileError(
                f"This model file unpacks to far more than it holds ({member.filename} declares "
                f"{member.file_size / 2**20:,.0f} MB from {member.compress_size / 2**20:,.1f} MB): "
                "it looks like a zip bomb, so it is not opened.")
        total += member.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ModelFileError(f"This model file unpacks to {total / 2**20:,.0f} MB; the limit is "
                             f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB.")


def check_config(config: dict) -> None:
    """Refuse a config that names anything but built-in Keras layers, initialisers, regularisers,
    constraints and models: Lambda layers and custom classes are named in the message."""
    lambdas, custom = [], []
    nodes = list(_class_nodes(config))
    if len(nodes) > MAX_CONFIG_OBJECTS:
        raise ModelFileError(f"This model describes {len(nodes):,} objects; the limit is "
                             f"{MAX_CONFIG_OBJECTS:,}. Try a smaller model.")
    for node in nodes:
        name, module = node.get("class_name"), node.get("module")
        registered = node.get("registered_name")
        label = node.get("config", {}).get("name") if isinstance(node.get("config"), dict) else None
        shown = f"{name} ({label})" if label else str(name)
        if name == "__lambda__":  # the pickled function inside a Lambda layer's config
            lambdas.append("a Python function")
        elif name in _CODE_LAYERS and module == "keras.layers":
            lambdas.append(shown)
        elif name in _DATA_MARKERS and module is None:
            continue
        elif registered not in (None, name, "Functional", "Sequential"):
            custom.append(f"{registered}")
        elif not _is_builtin(module, name):
            custom.append(shown if module in (None, "builtins") else f"{shown} from {module}")
    if lambdas:
        raise UnsafeModelError(
            "This model contains layers that run Python code: " + ", ".join(sorted(set(lambdas)))
            + ". They are never loaded here. Replace them with built-in Keras layers and save "
              "the model again.")
    if custom:
        raise UnsafeModelError(
            "This model uses classes that are not part of Keras: " + ", ".join(sorted(set(custom)))
            + ". Custom code is never loaded here; rebuild the model from built-in Keras layers.")


def _class_nodes(obj):
    """Every dict in the JSON tree that names a class."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_builtin(module, name) -> bool:
    import keras

    if not isinstance(name, str) or not isinstance(module, (str, type(None))):
        return False
    if (module, name) in _MODEL_CLASSES or (module, name) in _KERAS_OBJECTS:
        return True
    attribute = _NAMESPACES.get(module)
    if attribute is None:
        return False
    found = getattr(getattr(keras, attribute), name, None)
    return isinstance(found, type)


# ---------------------------------------------------------------- the architecture
@dataclass(frozen=True)
class Architecture:
    """What the config builds, read without allocating a single weight."""

    input_shape: tuple[int, int, int]
    num_classes: int
    parameters: int
    gigaflops: float  # multiply-adds x 2 of its weighted layers for one image (an estimate)


def check_architecture(config: dict) -> Architecture:
    """Check 4: build the model from its config inside a stateless scope, where Keras defers every
    variable (so a config claiming billions of weights costs nothing), and check its shape.

    Raises:
        ModelFileError: several inputs, not an image input, too large an input, not one output
            vector, too many parameters, or a config Keras cannot build.
    """
    import keras

    from keras.src.backend.common import global_state

    before = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if not isinstance(model, keras.Model):
            raise ModelFileError("This file holds a Keras object that is not a model.")
        inputs, outputs = list(model.inputs), list(model.outputs)
        parameters = int(sum(math.prod(int(d) for d in w.shape) for w in model.weights))
        gigaflops = _gigaflops(model)
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError("Keras cannot build the model this file describes (" +
                             _short(err) + "). Save it again with Keras 3.") from err
    finally:  # the deferred variables of the throw-away model must never be initialised
        global_state.set_global_attribute("uninitialized_variables", before)
    if len(inputs) != 1:
        raise ModelFileError(f"This model takes {len(inputs)} inputs; Vision Lab explains models "
                             "that take one image.")
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ModelFileError(
            f"This model's input has the shape {shape}; Vision Lab needs one image: height x "
            "width x 1 (grey) or 3 (RGB) channels.")
    if shape[0] is None or shape[1] is None:
        raise ModelFileError("This model accepts images of any size; give its Input a fixed "
                             "size (e.g. `keras.Input((224, 224, 3))`) and save it again.")
    height, width = int(shape[0]), int(shape[1])
    if max(height, width) > MAX_SIDE or min(height, width) < MIN_SIDE:
        raise ModelFileError(
            f"This model takes {height}x{width} images; Vision Lab accepts models whose input "
            f"is between {MIN_SIDE} and {MAX_SIDE} pixels a side.")
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        described = ", ".join(str(tuple(o.shape[1:])) for o in outputs)
        raise ModelFileError(
            f"This model's output is {described}; Vision Lab needs one vector of class "
            "probabilities or logits (shape: number of classes).")
    classes = outputs[0].shape[-1]
    if classes is None or not 2 <= int(classes) <= MAX_CLASSES:
        raise ModelFileError(f"This model outputs {classes} scores; a classifier needs between "
                             f"2 and {MAX_CLASSES} classes.")
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(f"This model has {parameters:,} parameters; the limit is "
                             f"{MAX_PARAMETERS:,}.")
    if gigaflops > MAX_GIGAFLOPS:  # refused before it ever runs: one call could not be stopped
        raise ModelFileError(
            f"This model needs about {gigaflops:,.0f} billion operations for one image; the limit "
            f"is {MAX_GIGAFLOPS:g} billion, a few seconds on a laptop. Try a smaller model or input.")
    return Architecture((height, width, int(shape[-1])), int(classes), parameters, gigaflops)


def _gigaflops(model) -> float:
    """2 x kernel size x output positions, summed over every layer with a kernel (conv, dense,
    at any depth): the bulk of a CNN's work, from shapes alone."""
    total = 0.0
    for layer in model._flatten_layers(include_self=False):
        kernel = getattr(layer, "kernel", None) if not hasattr(layer, "layers") else None
        if kernel is None:
            kernel = getattr(layer, "depthwise_kernel", None)
        if kernel is None:
            continue
        try:
            positions = math.prod(int(d) for d in layer.output.shape[1:-1])
        except (AttributeError, ValueError, TypeError):
            positions = 1
        total += 2.0 * math.prod(int(d) for d in kernel.shape) * positions
        pointwise = getattr(layer, "pointwise_kernel", None)
        if pointwise is not None:
            total += 2.0 * math.prod(int(d) for d in pointwise.shape) * positions
    return total / 1e9


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:160]


# ---------------------------------------------------------------- the loaded model
@dataclass(frozen=True)
class LayerRow:
    """One line of the model summary."""

    name: str
    kind: str
    output_shape: str
    parameters: int


@dataclass
class UserModel:
    """A checked user model, wrapped to end in pre-softmax scores + a `probabilities` softmax.

    It lives only where its owner keeps it (one browser session); `release` drops its compiled
    calls so that the memory is freed as soon as the session lets go of it.
    """

    model: keras.Model            # the wrapped model: logits -> Activation "probabilities"
    file_name: str
    labels: tuple[str, ...]
    rows: tuple[LayerRow, ...]
    parameters: int
    ends_in_softmax: bool         # the user's model output probabilities (peeled off for CAM)
    rescaling: str | None         # its own input scaling layer, e.g. "Rescaling(1/255)"
    predict_seconds: float
    pixel_scale: str = "0-255"    # used only when `rescaling` is None
    _calls: dict = field(default_factory=dict, repr=False)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.model.input_shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def suggested_kind(self) -> str:
        """The input kind to preselect: grey 28x28 models are doodles or Fashion, others photos."""
        return "photo" if self.input_shape[-1] == 3 else "fashion"

    def scaled(self, model_input: np.ndarray) -> np.ndarray:
        """0-255 pixels at the model's input shape, in the scale the model expects."""
        pixels = np.asarray(model_input, np.float32)
        if self.rescaling is not None:
            return pixels
        multiply, add = PIXEL_SCALES[self.pixel_scale]
        return pixels * np.float32(multiply) + np.float32(add)

    def _predictor(self):
        if "predictor" not in self._calls:
            from vision.models import Predictor

            self._calls["predictor"] = Predictor(self.model)
        return self._calls["predictor"]

    def probabilities(self, model_input: np.ndarray) -> np.ndarray:
        """Class probabilities of one 0-255 image at the model's input shape."""
        return self._predictor().probabilities(self.scaled(model_input))

    def explainable_layers(self) -> list[str]:
        """Layers a heat map can be computed on, input to output (not a model nested as one
        layer: its output tensor belongs to its own graph, out of the gradient's reach)."""
        from vision.activations import feature_map_layer_names

        nested = set(self.nested_models)  # never conv or pooling layers, so never listed
        return [name for name in feature_map_layer_names(self.model) if name not in nested]

    @property
    def nested_models(self) -> list[str]:
        """Layers that are whole models (e.g. a keras.applications backbone called as a layer)."""
        import keras

        return [layer.name for layer in self.model.layers if isinstance(layer, keras.Model)]

    def default_layer(self) -> str | None:
        layers = self.explainable_layers()
        return layers[-1] if layers else None

    def explainer(self, layer: str):
        """Grad-CAM on `layer` (classic CAM when the model allows it there), built once."""
        key = ("explainer", layer)
        if key not in self._calls:
            from vision.explain import CAM, CAMNotSupportedError, GradCAM

            try:
                explainer = CAM(self.model, layer)
            except CAMNotSupportedError:
                explainer = GradCAM(self.model, layer)
            self._calls[key] = explainer
        return self._calls[key]

    def method_name(self, layer: str) -> str:
        """ "CAM" or "Grad-CAM": the method `explain` uses on this layer."""
        from vision.explain import CAM

        return "CAM" if isinstance(self.explainer(layer), CAM) else "Grad-CAM"

    def explain(self, model_input: np.ndarray, class_index: int, layer: str):
        """The heat map (an `Explanation`) of one 0-255 image for one class on one layer."""
        return self.explainer(layer).explain(self.scaled(model_input), int(class_index))

    def activations(self, model_input: np.ndarray):
        """The feature maps of every conv and pooling layer for one 0-255 image."""
        if "activations" not in self._calls:
            from vision.activations import ActivationExtractor

            self._calls["activations"] = ActivationExtractor(self.model)
        return self._calls["activations"](self.scaled(model_input))

    def has_feature_maps(self) -> bool:
        return bool(self.explainable_layers())

    def release(self) -> None:
        """Drop the compiled calls (and their graphs); the session then drops the model."""
        self._calls.clear()


def parse_labels(data: bytes | None, num_classes: int) -> tuple[str, ...]:
    """Class names from a label file (one a line; blank lines at the end ignored), or "class 0",
    "class 1"... when there is none.

    Raises:
        ModelFileError: not text, or not one name per class.
    """
    if not data:
        return tuple(f"class {i}" for i in range(num_classes))
    if len(data) > MAX_LABEL_BYTES:
        raise ModelFileError("The label file is too big: it should hold one class name a line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelFileError("The label file is not text: save it as plain UTF-8 text, one "
                             "class name a line.") from err
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if len(names) != num_classes:
        raise ModelFileError(f"The label file has {len(names)} names but the model has "
                             f"{num_classes} classes: write one class name a line, in the order "
                             "of the model's outputs.")
    if not all(names):
        raise ModelFileError("The label file has an empty line among the names.")
    return tuple(names)


def load_user_model(data: bytes, file_name: str = "model.keras", labels: bytes | None = None,
                    max_seconds: float = MAX_PREDICT_SECONDS) -> UserModel:
    """Check a `.keras` file's bytes and load it from memory (see the module docstring).

    Args:
        data: the file's bytes (never written to disk).
        file_name: the uploaded file's name (only used to recognise `.h5` files).
        labels: an optional label file, one class name a line.
        max_seconds: the longest one prediction may take.
    Raises:
        ModelFileError (or UnsafeModelError): the message says what is wrong and what to do.
    """
    config = check_archive(data, file_name)
    architecture = check_architecture(config)
    names = parse_labels(labels, architecture.num_classes)
    from keras.src.saving import saving_lib

    try:
        # keras.saving.load_model takes paths only; this is the function it calls with the open
        # file, given an in-memory file object instead (the same checks, no disk).
        original = saving_lib.load_model(io.BytesIO(data), compile=False, safe_mode=True)
    except Exception as err:
        raise ModelFileError("This model file could not be loaded: its weights do not match its "
                             f"layers or are damaged ({_short(err)}).") from err
    model, ends_in_softmax = _with_logits(original)
    user_model = UserModel(model, file_name, names, tuple(_rows(original)), architecture.parameters,
                           ends_in_softmax, _rescaling(original), 0.0)
    user_model.predict_seconds = _timed_prediction(user_model, max_seconds)
    return user_model


def _functional(model: keras.Model) -> keras.Model:
    """A loaded Sequential model rebuilt as a functional one from fresh copies of its layers
    (built-in classes only, checked above), each called once: a loaded Sequential's layers keep
    the tensors of their first call, which the heat map's gradient cannot reach."""
    import keras

    if not isinstance(model, keras.Sequential):
        return model
    inputs = keras.Input(tuple(model.input_shape[1:]), name="pixels")
    x = inputs
    for layer in model.layers:
        copy = type(layer).from_config(layer.get_config())
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=model.name)


def _with_logits(model: keras.Model) -> tuple[keras.Model, bool]:
    """The model ending in pre-softmax scores + Activation("softmax", name="probabilities")."""
    import keras

    model = _functional(model)
    output = model.outputs[0]
    last = output._keras_history.operation
    activation = getattr(last, "activation", None)
    activation_name = getattr(activation, "__name__", None)
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and activation_name in _SOFTMAX):
        if last.name == "probabilities" and isinstance(last, keras.layers.Activation):
            return model, True
        logits, ends_in_softmax = last.input, True
    elif activation_name in _SOFTMAX and isinstance(last, keras.layers.Dense):
        linear = keras.layers.Dense.from_config(
            {**last.get_config(), "activation": "linear", "name": f"{last.name}_logits"})
        logits = linear(last.input)
        linear.set_weights(last.get_weights())
        ends_in_softmax = True
    elif activation_name in (None, "linear") and not isinstance(last, keras.layers.Activation):
        logits, ends_in_softmax = output, False
    else:
        raise ModelFileError(
            f"This model ends in a {activation_name or type(last).__name__} activation: Vision "
            "Lab needs one vector of class probabilities (softmax) or of logits (no activation).")
    probabilities = keras.layers.Activation("softmax", name="probabilities")(logits)
    inputs = model.inputs
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, probabilities,
                       name=model.name), ends_in_softmax


def _rescaling(model: keras.Model) -> str | None:
    """The model's own input scaling, if a Rescaling or Normalization layer comes before its first
    conv or dense layer: then it takes raw 0-255 pixels."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Rescaling):
            scale, offset = layer.scale, layer.offset
            return f"Rescaling(scale={_number(scale)}, offset={_number(offset)})"
        if isinstance(layer, keras.layers.Normalization):
            return "Normalization"
        if type(layer).__name__ in _WEIGHTED:
            return None
    return None


def _number(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value == 0:
        return "0"
    for denominator in (255.0, 127.5):
        if abs(value * denominator - round(value * denominator)) < 1e-4 and abs(value) < 1:
            return f"{round(value * denominator):g}/{denominator:g}"
    return f"{value:g}"


def _rows(model: keras.Model) -> list[LayerRow]:
    rows = []
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape[1:])
        except (AttributeError, ValueError):
            shape = ()
        rows.append(LayerRow(layer.name, type(layer).__name__,
                             " x ".join("?" if d is None else str(d) for d in shape),
                             int(layer.count_params())))
    return rows


def _timed_prediction(user_model: UserModel, max_seconds: float) -> float:
    """Check 6: trace the compiled call once, then time one prediction on a blank image."""
    blank = np.zeros(user_model.input_shape, np.float32)
    try:
        user_model.probabilities(blank)  # traces the call: not what a user waits for each time
        start = time.perf_counter()
        probabilities = user_model.probabilities(blank)
        seconds = time.perf_counter() - start
    except Exception as err:
        raise ModelFileError(f"This model fails on an image of its own input size ({_short(err)}).") from err
    if seconds > max_seconds:
        user_model.release()
        raise ModelFileError(
            f"This model takes {seconds:.2f} s to look at one image; the limit is "
            f"{max_seconds:g} s. Try a smaller model or a smaller input size.")
    if not np.all(np.isfinite(probabilities)):
        raise ModelFileError("This model outputs NaN or infinite scores on a blank image.")
    return seconds


# ---------------------------------------------------------------- its input
def adapt_to_input(image: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """A 0-255 picture (H, W), (H, W, 1) or (H, W, 3) resized to the model's height and width and
    given its channels: float32 (h, w, c), still 0-255."""
    height, width, channels = input_shape
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    if pixels.shape[:2] != (height, width):
        shrink = pixels.shape[0] > height
        pixels = cv2.resize(pixels, (width, height),
                            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if channels == 1 and pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    if channels == 3 and pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return pixels.astype(np.float32)


def dataset_for_kind(kind: str) -> str | None:
    """The registered dataset whose pictures are of this kind (where samples come from)."""
    from vision.registry import DATASETS

    return next((name for name, dataset in DATASETS.items()
                 if dataset.models and dataset.models[0].preprocessing == kind), None)


def prepare_picture(kind: str, image: np.ndarray, input_shape: tuple[int, int, int],
                    is_dataset_sample: bool = False):
    """The user's picture as this model's input, through the preprocessing of `kind`
    ("fashion", "doodle" or "photo"): a `Preprocessed` whose model_input fits `input_shape`."""
    from dataclasses import replace

    from vision.preprocess import (Step, dataset_image_input, doodle_from_canvas,
                                   fashion_from_photo, photo_for_mobilenet)

    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {sorted(INPUT_KINDS)}, got {kind!r}")
    if is_dataset_sample:
        prepared = dataset_image_input(image)
    elif kind == "fashion":
        prepared = fashion_from_photo(image)
    elif kind == "doodle":
        prepared = doodle_from_canvas(image)
    else:
        prepared = photo_for_mobilenet(image, max(input_shape[:2]))
    model_input = adapt_to_input(prepared.model_input, input_shape)
    if model_input.shape[:2] == prepared.model_input.shape[:2]:
        return replace(prepared, model_input=model_input)
    shown = model_input.astype(np.uint8)
    step = Step(f"{input_shape[0]}x{input_shape[1]} input", shown[..., 0] if shown.shape[-1] == 1
                else shown)
    # the resize scales the picture-to-input mapping too, so heat maps still map back exactly
    rows = input_shape[0] / prepared.model_input.shape[0]
    columns = input_shape[1] / prepared.model_input.shape[1]
    return replace(prepared, model_input=model_input, steps=(*prepared.steps, step),
                   scale=(prepared.scale[0] * rows, prepared.scale[1] * columns),
                   offset=(prepared.offset[0] * rows, prepared.offset[1] * columns))


def keras_bytes(model: keras.Model) -> bytes:
    """A model as the bytes of a `.keras` file, written to memory (for a download), not to disk."""
    import keras

    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)  # keras.saving.save_model wants a path; same writer
    return buffer.getvalue()


def main() -> None:
    """`python -m vision.user_models MODEL.keras [LABELS.txt]`: run every check on a file, as the
    app does, and print what each costs beside a plain `keras.saving.load_model` of the same file
    (which checks nothing but safe mode)."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("labels", type=Path, nargs="?")
    args = parser.parse_args()
    import keras  # imported before the clock starts: TensorFlow takes seconds to import

    check_upload_size(args.model.stat().st_size)
    data = args.model.read_bytes()
    labels = args.labels.read_bytes() if args.labels else None
    try:  # once to refuse a bad file before the naive load ever sees it, then timed, warm
        load_user_model(data, args.model.name, labels)
    except ModelFileError as err:
        print(f"refused: {err}")
        raise SystemExit(1) from None
    start = time.perf_counter()
    keras.saving.load_model(args.model, safe_mode=True, compile=False)
    plain_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        config = check_archive(data, args.model.name)
        archive_s = time.perf_counter() - start
        architecture = check_architecture(config)
        architecture_s = time.perf_counter() - start - archive_s
        user_model = load_user_model(data, args.model.name, labels)
        total_s = time.perf_counter() - start
    except ModelFileError as err:
        print(f"refused: {err}")
        raise SystemExit(1) from None
    print(f"{args.model.name}: accepted. Input {architecture.input_shape}, "
          f"{architecture.num_classes} classes, {architecture.parameters:,} parameters, "
          f"{architecture.gigaflops:.2f} GFLOPs an image; "
          f"{'ends in a softmax' if user_model.ends_in_softmax else 'outputs logits'}; "
          f"input scaling: {user_model.rescaling or 'none (the user picks the pixel scale)'}")
    print(f"zip + config checks {archive_s * 1000:.0f} ms, stateless build {architecture_s * 1000:.0f} ms, "
          f"all checks + load + traced and timed prediction {total_s * 1000:.0f} ms "
          f"(one prediction {user_model.predict_seconds * 1000:.1f} ms); "
          f"plain keras.saving.load_model {plain_s * 1000:.0f} ms: x{total_s / plain_s:.1f}")


if __name__ == "__main__":
    main()
