"""When a test may skip: on a developer's machine, never in CI."""

import os

import pytest


def skip_unless_ci(reason: str) -> None:
    """Skip on a developer's machine; fail in CI (``CI=true``), which must have everything."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have it: {reason}")
    pytest.skip(reason)
