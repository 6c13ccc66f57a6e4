"""The "One of my models" backbone: the feature part of an earlier TransferLab run.

A run folder holds ``model.keras`` (the classifier, layers named as in
``tlcore.models.classifier``) and ``spec.json`` (``{"config": TrainConfig.to_dict(), ...}``).
Everything here works offline: nothing is downloaded.
"""

from pathlib import Path
from typing import Any

from tlcore import workspace
from tlcore.config import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from tlcore.errors import ConfigError


def run_id_of(weights: str) -> str:
    """Return ``<id>`` from ``run:<id>``; ``ConfigError`` when it is not that form."""
    if not weights or not weights.startswith("run:") or not weights[4:].strip():
        raise ConfigError(
            f"'One of my models' needs weights of the form run:<id> (got '{weights}')."
        )
    return weights[4:].strip()


def run_config(run_id: str) -> dict[str, Any]:
    """Return the training config dict saved in ``runs/<id>/spec.json``.

    Raises:
        ConfigError: no such run, or its ``spec.json`` is damaged (a page shows this
            instead of crashing on it).
    """
    from tlcore.fsutil import read_json

    spec_path = workspace.runs_dir() / run_id / "spec.json"
    if not spec_path.is_file():
        raise ConfigError(f"There is no run '{run_id}' in {workspace.runs_dir()}.")
    try:
        spec = read_json(spec_path)
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        spec = None
    config = spec.get("config") if isinstance(spec, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("image_size") or 0, int):
        raise ConfigError(
            f"Run '{run_id}''s settings (spec.json) are damaged, so the network it trained "
            "cannot be rebuilt from it; pick another of your models."
        )
    size = config.get("image_size")
    if size is not None and not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise ConfigError(
            f"Run '{run_id}' says it trained at {size} px, outside the {MIN_IMAGE_SIZE}-"
            f"{MAX_IMAGE_SIZE} px TransferLab works with (its spec.json was changed); pick "
            "another of your models."
        )
    return config


def run_image_size(run_id: str) -> int:
    """The image size run ``run_id`` trained at (its own, else its backbone's default).

    A run that itself started from one of my models trained at that model's size.
    """
    from tlcore.models.backbones import get_backbone

    seen = set()
    config = run_config(run_id)
    while not config.get("image_size") and config.get("backbone") == "my_model":
        earlier = run_id_of(config.get("weights") or "")
        if earlier in seen:
            break
        seen.add(earlier)
        config = run_config(earlier)
    if config.get("image_size"):
        return int(config["image_size"])
    return get_backbone(config.get("backbone") or "mobilenet_v2").default_size


def run_model_path(run_id: str) -> Path:
    """Run ``run_id``'s ``model.keras``; ``ConfigError`` if the run, its readable settings
    (its size comes from them) or its model is missing."""
    run_config(run_id)
    path = workspace.runs_dir() / run_id / "model.keras"
    if not path.is_file():
        raise ConfigError(
            f"Run '{run_id}' has no saved model yet (model.keras); pick a finished run."
        )
    return path


def run_feature_layers(run_id: str) -> tuple[Any, Any]:
    """Load run ``run_id``'s model safely; return copies of its ``preprocess`` layer and its
    plain backbone (one output: the last feature map)."""
    from tlcore.models.mirrored_views import inner_backbone
    from tlcore.models.model_files import load_image_model

    model = load_image_model(run_model_path(run_id), "backbone")
    try:
        preprocess, backbone = model.get_layer("preprocess"), model.get_layer("backbone")
    except ValueError:
        raise ConfigError(
            f"Run '{run_id}''s model has no 'preprocess'/'backbone' part; it "
            "was not made by TransferLab."
        ) from None
    # A backbone seeing the image and its mirror: the plain network inside is the feature
    # part (a new run chooses its own views).
    backbone = inner_backbone(backbone)
    # Fresh copies: a layer's ``.output`` is that of its first call, which for the loaded
    # layers is inside the old model; Grad-CAM and the fast path need the new model's.
    copy = _fresh_copy(backbone)
    if len(copy.outputs) > 1:  # a multi-layer head's backbone: its last feature map first
        import keras

        copy = keras.Model(copy.inputs, copy.outputs[0], name=copy.name)
    return _fresh_copy(preprocess, backbone.input_shape), copy


def _fresh_copy(layer: Any, input_shape: Any = None) -> Any:
    import keras

    if isinstance(layer, keras.Model):
        copy = keras.models.clone_model(layer)
    else:
        copy = type(layer).from_config(layer.get_config())
        copy.build(input_shape)
    copy.set_weights(layer.get_weights())
    if isinstance(copy, keras.Model):
        from tlcore.models.model_files import refresh_layer_state

        refresh_layer_state(copy)
    return copy


def run_backbone(weights: str, image_size: int) -> Any:
    """The backbone of run ``weights`` (``run:<id>``), for the ``my_model`` backbone."""
    run_id = run_id_of(weights)
    _, backbone = run_feature_layers(run_id)
    check_run_size(run_id, backbone, image_size)
    return backbone


def check_run_size(run_id: str, backbone: Any, image_size: int) -> None:
    """``ConfigError`` unless a run's backbone takes ``image_size`` px images."""
    size = backbone.input_shape[1]
    if size is not None and size != image_size:
        raise ConfigError(
            f"Run '{run_id}' was trained on {size} px images; use image size {size} with it."
        )


def copy_run_weights(model: Any, key: str, weights: str) -> None:
    """Copy the backbone weights of run ``weights`` (``run:<id>``) into a fresh ``model``.

    The run must have used the same backbone ``key``; ``ConfigError`` otherwise.
    """
    run_id = run_id_of(weights)
    used = run_config(run_id).get("backbone")
    if used != key:
        raise ConfigError(
            f"Run '{run_id}' used the backbone '{used}', not '{key}'; pick "
            f"the backbone '{used}' or the backbone 'One of my models'."
        )
    _, backbone = run_feature_layers(run_id)
    try:
        model.set_weights(backbone.get_weights())
    except ValueError as e:
        raise ConfigError(f"Run '{run_id}''s backbone weights do not fit ({e}).") from None
