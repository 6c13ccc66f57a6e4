"""Freezing strategies set exactly the intended trainable flags; BatchNorm stays frozen;
parameter counts match Keras' own."""

import re

import numpy as np
import pytest

from tlcore.config import FreezeConfig, TrainConfig
from tlcore.errors import ConfigError
from tlcore.models.backbone_models import build_backbone
from tlcore.models.freezing import (
    STRATEGIES,
    apply_freeze,
    block_names,
    head_phase_freeze,
    list_layers,
    param_counts,
    trainable_plan,
)


@pytest.fixture(scope="module")
def backbone():
    return build_backbone("mobilenet_v2", 32, "none")


def _is_bn(layer) -> bool:
    return type(layer).__name__ == "BatchNormalization"


def _flags(backbone) -> list[bool]:
    return [layer.trainable for layer in backbone.layers]


def _expected(backbone, trains: list[bool], bn_trains: bool = False) -> list[bool]:
    return [
        t and (bn_trains or not _is_bn(layer))
        for layer, t in zip(backbone.layers, trains, strict=True)
    ]


def _keras_summary_counts(model) -> tuple[int, int]:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))
    trainable = int(re.search(r"Trainable params: ([\d,]+)", text).group(1).replace(",", ""))
    frozen = int(re.search(r"Non-trainable params: ([\d,]+)", text).group(1).replace(",", ""))
    return trainable, frozen


def test_registry_lists_the_five_strategies_with_explanations() -> None:
    assert list(STRATEGIES) == ["feature-extraction", "fine-tune", "full", "scratch", "custom"]
    assert all(s.display_name and s.description for s in STRATEGIES.values())
    assert STRATEGIES["scratch"].forces_random_weights
    assert not STRATEGIES["fine-tune"].forces_random_weights


def test_feature_extraction_freezes_everything(backbone) -> None:
    apply_freeze(backbone, FreezeConfig(strategy="feature-extraction"))
    assert _flags(backbone) == [False] * len(backbone.layers)
    assert param_counts(backbone) == (0, backbone.count_params())


def test_fine_tune_top_n_unfreezes_exactly_the_last_n_except_batchnorm(backbone) -> None:
    n = len(backbone.layers)
    apply_freeze(backbone, FreezeConfig(strategy="fine-tune", unfreeze_top=10))
    assert _flags(backbone) == _expected(backbone, [i >= n - 10 for i in range(n)])
    assert backbone.layers[-2].name == "Conv_1_bn" and not backbone.layers[-2].trainable
    assert backbone.layers[-3].name == "Conv_1" and backbone.layers[-3].trainable


@pytest.mark.parametrize("start", ["block_15", "block_15_expand", "134"])
def test_fine_tune_from_a_block_a_layer_or_an_index(backbone, start) -> None:
    apply_freeze(backbone, FreezeConfig(strategy="fine-tune", unfreeze_from=start))
    first = [layer.name for layer in backbone.layers].index("block_15_expand")
    assert first == 134
    n = len(backbone.layers)
    assert _flags(backbone) == _expected(backbone, [i >= first for i in range(n)])


def test_fine_tune_default_is_the_last_block(backbone) -> None:
    apply_freeze(backbone, FreezeConfig(strategy="fine-tune"))
    first = [layer.name for layer in backbone.layers].index("block_16_expand")
    n = len(backbone.layers)
    assert _flags(backbone) == _expected(backbone, [i >= first for i in range(n)])


def test_full_keeps_batchnorm_frozen_unless_asked(backbone) -> None:
    n = len(backbone.layers)
    apply_freeze(backbone, FreezeConfig(strategy="full"))
    assert _flags(backbone) == _expected(backbone, [True] * n)
    assert sum(_is_bn(layer) for layer in backbone.layers) == 52
    apply_freeze(backbone, FreezeConfig(strategy="full", train_batchnorm=True))
    assert _flags(backbone) == [True] * n


def test_scratch_trains_everything_including_batchnorm(backbone) -> None:
    apply_freeze(backbone, FreezeConfig(strategy="scratch"))
    assert _flags(backbone) == [True] * len(backbone.layers)
    assert param_counts(backbone) == (
        sum(int(np.prod(w.shape)) for w in backbone.weights if "moving" not in w.path),
        34112,
    )


def test_custom_freezes_exactly_the_named_layers(backbone) -> None:
    frozen = ("Conv1", "block_1_expand", "block_16_project")
    apply_freeze(backbone, FreezeConfig(strategy="custom", frozen_layers=frozen))
    expected = [layer.name not in frozen for layer in backbone.layers]
    assert _flags(backbone) == _expected(backbone, expected)
    with pytest.raises(ConfigError, match="Unknown layer"):
        apply_freeze(backbone, FreezeConfig(strategy="custom", frozen_layers=("nope",)))


def test_bad_plans_are_config_errors(backbone) -> None:
    with pytest.raises(ConfigError, match="No layer or block named 'block_99'"):
        trainable_plan(backbone, FreezeConfig(strategy="fine-tune", unfreeze_from="block_99"))
    with pytest.raises(ConfigError, match="Unknown strategy"):
        trainable_plan(backbone, FreezeConfig(strategy="half"))
    with pytest.raises(ConfigError, match="has 154 layers"):
        trainable_plan(backbone, FreezeConfig(strategy="fine-tune", unfreeze_from="500"))


@pytest.mark.parametrize(
    "freeze",
    [
        FreezeConfig(strategy="feature-extraction"),
        FreezeConfig(strategy="fine-tune", unfreeze_top=20),
        FreezeConfig(strategy="full"),
        FreezeConfig(strategy="scratch"),
    ],
)
def test_counts_match_keras_own_for_the_whole_classifier(freeze) -> None:
    from tlcore.models.classifier import build_classifier

    model = build_classifier(TrainConfig(data="x", weights="none", image_size=32, freeze=freeze), 3)
    trainable, frozen = param_counts(model)
    assert (trainable, frozen) == _keras_summary_counts(model)
    assert trainable + frozen == model.count_params()
    assert trainable >= 1280 * 3 + 3  # the head always trains


def test_layer_list_reports_flags_blocks_and_params(backbone) -> None:
    apply_freeze(backbone, FreezeConfig(strategy="fine-tune", unfreeze_from="block_16"))
    layers = list_layers(backbone)
    assert [li.index for li in layers] == list(range(154))
    by_name = {li.name: li for li in layers}
    assert by_name["block_13_expand"].block == "block_13"
    assert by_name["expanded_conv_project"].block == "block_0"
    assert by_name["Conv1"].block == "stem" and by_name["out_relu"].block == "top"
    assert by_name["block_16_project"].trainable and not by_name["block_15_project"].trainable
    assert by_name["block_16_project"].params == 960 * 320
    assert by_name["block_16_project"].output_shape == (None, 1, 1, 320)
    assert by_name["block_16_project"].type == "Conv2D"
    assert sum(li.params for li in layers) == backbone.count_params()
    assert block_names(backbone) == (["stem"] + [f"block_{i}" for i in range(17)] + ["top"])


def test_two_phase_switches_plans(backbone) -> None:
    plan = FreezeConfig(strategy="fine-tune", unfreeze_top=5)
    apply_freeze(backbone, head_phase_freeze(plan))
    assert param_counts(backbone)[0] == 0
    apply_freeze(backbone, plan)
    assert param_counts(backbone)[0] > 0


def test_from_scratch_is_unavailable_for_networks_that_are_only_their_learned_weights() -> None:
    from tlcore.models.backbones import BACKBONES
    from tlcore.models.freezing import STRATEGIES, unavailable_reason

    for key in ("my_model", "keras_file"):
        reason = unavailable_reason("scratch", BACKBONES[key])
        assert reason.startswith(f"Not possible with {BACKBONES[key].display_name}: ")
        assert reason.endswith(".")
        assert [s for s in STRATEGIES if unavailable_reason(s, BACKBONES[key])] == ["scratch"]
    assert not any(unavailable_reason(s, BACKBONES["small_cnn"]) for s in STRATEGIES)
