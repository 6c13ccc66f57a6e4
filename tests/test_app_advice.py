"""ui.advice (with the pages that use it): advice names what works on this computer."""

from pathlib import Path

from app_helpers import app

from tlcore.models import backbones
from ui import advice

LITE = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


def test_without_anything_offline_the_advice_is_the_download_one(monkeypatch) -> None:
    online_only = {
        k: b for k, b in backbones.BACKBONES.items() if not getattr(b, "bundled_weights", False)
    }
    monkeypatch.setattr(advice, "BACKBONES", online_only)
    assert advice.ready_networks() == []  # a fresh workspace: nothing downloaded either
    assert advice.pretrained_route(False) == (
        "Choose a pretrained network (e.g. **MobileNetV2**) on the Model page; its "
        "weights download once (needs internet)."
    )


def test_the_installed_networks_are_named_as_working_offline() -> None:
    assert [b.key for b in advice.installed_networks()] == LITE
    route = advice.pretrained_route(True)
    assert "**EfficientNet-Lite0**" in route and "offline" in route
    assert "download" not in route.split("Or choose")[0]
    assert route.endswith("Or choose **One of my models**: a network you trained here "
                          "before, which works offline.")  # fmt: skip


def test_a_downloaded_network_is_named_too(workspace: Path) -> None:
    from tlcore.models.weights import cached_weights_path, imagenet_source

    source = imagenet_source("mobilenet_v2", 224)
    path = cached_weights_path(source.filename)
    path.write_bytes(b"weights")
    assert [b.key for b in advice.downloaded_networks()] == ["mobilenet_v2"]
    assert [b.key for b in advice.ready_networks()][-1] == "mobilenet_v2"
    assert advice.pretrained_route(False).startswith("Choose **EfficientNet-Lite0** or")


def test_the_model_page_names_the_installed_network_for_offline_use(tiny_dataset: Path) -> None:
    at = app(
        "model", data_path=str(tiny_dataset), backbone="mobilenet_v2", training={"image_size": 32}
    )
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "No internet? **EfficientNet-Lite0** and **EfficientNet-Lite1** came with" in captions


def test_an_installed_network_needs_no_download(tiny_dataset: Path) -> None:
    at = app(
        "model",
        data_path=str(tiny_dataset),
        backbone="efficientnet_lite0",
        training={"image_size": 32},
    )
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "The pretrained weights are on this computer." in captions
    assert not [b for b in at.button if b.key == "weights_download"]
