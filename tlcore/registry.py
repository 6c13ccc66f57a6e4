"""Looking a name up in one of tlcore's registries (backbones, strategies, recipes, ...)."""

from collections.abc import Mapping
from typing import TypeVar

from tlcore.errors import ConfigError

T = TypeVar("T")


def lookup(registry: Mapping[str, T], key: str, what: str) -> T:
    """Return ``registry[key]``; a ``ConfigError`` that lists the valid keys otherwise.

    Args:
        registry: name -> spec.
        key: the name asked for.
        what: what the registry holds, for the message (e.g. ``"backbone"``).
    """
    try:
        return registry[key]
    except KeyError:
        raise ConfigError(
            f"Unknown {what} '{key}'. Choose one of: {', '.join(registry)}."
        ) from None
