"""Stub: replaced by its owner (deploy checks of the privacy keys)."""

from typing import Any

from django.core.checks import CheckMessage


def check_privacy_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return []
