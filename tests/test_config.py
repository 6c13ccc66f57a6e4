import pytest

from tlcore.config import AugmentConfig, FreezeConfig, SplitConfig, TrainConfig
from tlcore.errors import ConfigError


def test_train_config_round_trips_through_json() -> None:
    cfg = TrainConfig(
        data="/data/flowers",
        backbone="resnet50",
        weights="run:abc",
        image_size=96,
        freeze=FreezeConfig(strategy="custom", frozen_layers=("conv1", "conv2")),
        augment=AugmentConfig.of(zoom=0.2, flip_horizontal=1.0),
        split=SplitConfig(val_fraction=0.25, test_fraction=0.0, seed=7),
        two_phase=True,
        head_epochs=1,
        epochs=3,
    )
    back = TrainConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.to_dict()["augment"] == {"flip_horizontal": 1.0, "zoom": 0.2}
    back.validate()


def test_unknown_keys_are_refused_with_their_names() -> None:
    with pytest.raises(ConfigError, match="epochz"):
        TrainConfig.from_dict({"data": "x", "epochz": 3})
    with pytest.raises(ConfigError, match="unfreeze_to"):
        TrainConfig.from_dict({"data": "x", "freeze": {"unfreeze_to": "x"}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "at least 1 epoch"),
        ({"resize_mode": "squash"}, "Resize mode"),
        ({"split": SplitConfig(val_fraction=0.5, test_fraction=0.45)}, "at least 10%"),
        ({"two_phase": True, "head_epochs": 5, "epochs": 5}, "head epochs"),
        ({"freeze": FreezeConfig(unfreeze_top=3, unfreeze_from="x")}, "not both"),
        ({"augment": AugmentConfig.of(zoom=2.0)}, "zoom"),
        ({"data": ""}, "No dataset"),
        ({"seed": -5}, r"seed must be a whole number from 0 to 4294967295 \(got -5\)"),
        ({"split": SplitConfig(seed=2**32)}, "seed must be a whole number"),
    ],
)
def test_validate_names_the_bad_setting(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(data="x").replace(**changes).validate()
