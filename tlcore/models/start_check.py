"""Checking the file a run starts from before the run is made, without TensorFlow.

A weights file, a Keras model file or an earlier run is otherwise opened only once the
worker has imported TensorFlow and decoded the images, 10-25 s in, leaving a failed run
behind. What can be judged from the file alone (it is there, of the right kind, not a
bomb, of a size and shape TransferLab can use) is judged here, as the run is created.
"""

from pathlib import Path

from tlcore.errors import ConfigError
from tlcore.models.backbones import get_backbone


def check_start(key: str, weights: str, image_size: int | None = None) -> None:
    """Refuse a run whose backbone ``key`` cannot start from ``weights``.

    Args:
        key: the backbone's registry key.
        weights: ``imagenet``, ``none``, a file path or ``run:<id>`` (as in ``TrainConfig``).
        image_size: the size asked for, if any (a model file fixes its own).

    Raises:
        ConfigError / ModelFileError / WeightsUnavailableError: the sentence the run would
            have failed with, now.
    """
    weights = (weights or "").strip()
    if key == "keras_file":
        _check_keras_file(weights, image_size)
    elif key == "my_model" or weights.startswith("run:"):
        _check_run(weights)
    elif weights.lower() not in ("", "imagenet", "none", "random"):
        from tlcore.models.backbone_weights import check_weights_file

        check_weights_file(weights, get_backbone(key).display_name)


def _check_keras_file(path: str, image_size: int | None) -> None:
    from tlcore.models.backbone_models import file_input_size, keras_file_needed
    from tlcore.models.model_files import check_model_file

    if not path or path.lower() in ("imagenet", "none") or not Path(path).is_file():
        raise keras_file_needed(path)
    check_model_file(path)
    size = file_input_size(path)
    if size and image_size and size != image_size:
        raise ConfigError(
            f"This model takes {size}x{size} px images; set the image size to {size}."
        )


def _check_run(weights: str) -> None:
    from tlcore.models.model_files import check_model_file
    from tlcore.models.my_models import run_id_of, run_model_path

    check_model_file(run_model_path(run_id_of(weights)))
