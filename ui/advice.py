"""Advice that names what works on this computer, offline too.

The backbone registry says which networks exist; this module says which of them can start
from pretrained weights here and now: those whose weights came installed with a package
(``bundled_weights`` on their spec), those whose ImageNet file is already downloaded, and
the person's own earlier models. Pages use it instead of naming a network that may need a
download this computer cannot make.
"""

from typing import Any

from tlcore.errors import TransferLabError
from tlcore.models.backbones import BACKBONES


def installed_networks() -> list[Any]:
    """Pretrained networks whose weights were installed with a package: no download."""
    return [b for b in BACKBONES.values() if getattr(b, "bundled_weights", False)]


def downloaded_networks() -> list[Any]:
    """Pretrained networks whose ImageNet weights are already in the workspace."""
    from tlcore.models.weights import imagenet_ready

    out = []
    for b in BACKBONES.values():
        if not b.pretrained or getattr(b, "bundled_weights", False):
            continue
        try:
            if imagenet_ready(b.key, b.default_size):
                out.append(b)
        except TransferLabError:
            continue
    return out


def ready_networks() -> list[Any]:
    """Every pretrained network that can start from its weights without internet."""
    return installed_networks() + downloaded_networks()


def pretrained_route(has_own_models: bool) -> str:
    """One or two sentences: which pretrained starting point to choose on the Model page."""
    ready = ready_networks()
    if ready:
        names = " or ".join(f"**{b.display_name}**" for b in ready[:2])
        one = len(ready[:2]) == 1
        text = (
            f"Choose {names} on the Model page: {'its' if one else 'their'} pretrained "
            f"weights are on this computer, so {'it works' if one else 'they work'} offline."
        )
    else:
        text = (
            "Choose a pretrained network (e.g. **MobileNetV2**) on the Model page; its "
            "weights download once (needs internet)."
        )
    if has_own_models:
        text += (
            " Or choose **One of my models**: a network you trained here before, "
            "which works offline."
        )
    return text
