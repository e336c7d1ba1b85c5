"""Encrypted model fields (django-fernet-encrypted-fields) keyed by our own key setting.

The library derives its key from SECRET_KEY; personal data must survive a SECRET_KEY rotation,
so these fields use `FIELD_ENCRYPTION_KEYS` instead (beneficiaires/privacy.py).
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.utils.functional import cached_property
from encrypted_fields import fields as encrypted

from beneficiaires.privacy import field_encryption_keys


class _OurKeys:
    @cached_property
    def keys(self) -> list[bytes]:
        return list(field_encryption_keys())

    @cached_property
    def f(self) -> Fernet | MultiFernet:
        keys = self.keys
        return Fernet(keys[0]) if len(keys) == 1 else MultiFernet([Fernet(k) for k in keys])


class EncryptedCharField(_OurKeys, encrypted.EncryptedCharField):  # type: ignore[misc]
    """Text encrypted at rest; empty values are stored as NULL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)


class EncryptedTextField(_OurKeys, encrypted.EncryptedTextField):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)
