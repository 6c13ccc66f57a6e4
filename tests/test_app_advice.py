"""ui.advice (with the pages that use it): advice names what works on this computer."""

from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from app_helpers import app

from tlcore.models import backbones
from ui import advice


@dataclass(frozen=True)
class _Installed(backbones.BackboneSpec):
    """A registry entry whose ImageNet weights came with a pip package (no download)."""

    bundled_weights: bool = True


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> _Installed:
    base = asdict(backbones.BACKBONES["mobilenet_v2"])
    spec = _Installed(**{**base, "key": "lite_net", "display_name": "LiteNet"})
    monkeypatch.setitem(backbones.BACKBONES, spec.key, spec)
    return spec


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


def test_an_installed_network_is_named_as_working_offline(installed: _Installed) -> None:
    assert installed in advice.installed_networks()
    route = advice.pretrained_route(True)
    assert "**LiteNet**" in route and "offline" in route
    assert "download" not in route.split("Or choose")[0]
    assert route.endswith("Or choose **One of my models**: a network you trained here "
                          "before, which works offline.")  # fmt: skip


def test_a_downloaded_network_is_named_too(workspace: Path) -> None:
    from tlcore.models.weights import cached_weights_path, imagenet_source

    source = imagenet_source("mobilenet_v2", 224)
    path = cached_weights_path(source.filename)
    path.write_bytes(b"weights")
    assert [b.key for b in advice.downloaded_networks()] == ["mobilenet_v2"]
    assert advice.pretrained_route(False).startswith("Choose **MobileNetV2** on the Model page")


def test_the_model_page_names_the_installed_network_for_offline_use(
    installed: _Installed, tiny_dataset: Path
) -> None:
    at = app(
        "model", data_path=str(tiny_dataset), backbone="mobilenet_v2", training={"image_size": 32}
    )
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "No internet? **LiteNet** came with its weights installed" in captions


def test_an_installed_network_needs_no_download(installed: _Installed, tiny_dataset: Path) -> None:
    at = app("model", data_path=str(tiny_dataset), backbone="lite_net", training={"image_size": 32})
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "The pretrained weights are on this computer." in captions
    assert not [b for b in at.button if b.key == "weights_download"]
