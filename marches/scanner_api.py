"""Stub: replaced by its owner (the scanner's configuration for offline use)."""

from ninja import Router

router = Router(tags=["scanner"])
