"""Encrypted model fields (django-fernet-encrypted-fields) keyed by our own key setting.

The library derives its key from SECRET_KEY; personal data must survive a SECRET_KEY rotation,
so these fields use `FIELD_ENCRYPTION_KEYS` instead (beneficiaires/privacy.py). The keys are
read at each use (cached per key set), so a changed setting is seen at once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, MultiFernet
from django.db import models
from encrypted_fields import fields as encrypted

from beneficiaires.privacy import field_encryption_keys


@lru_cache(maxsize=8)
def _fernet(keys: tuple[bytes, ...]) -> Fernet | MultiFernet:
    return Fernet(keys[0]) if len(keys) == 1 else MultiFernet([Fernet(k) for k in keys])


class _OurKeys:
    @property
    def keys(self) -> list[bytes]:
        return list(field_encryption_keys())

    @property
    def f(self) -> Fernet | MultiFernet:
        return _fernet(field_encryption_keys())


if TYPE_CHECKING:

    class EncryptedCharField(models.CharField[str | None, str | None]):
        pass

    class EncryptedTextField(models.TextField[str | None, str | None]):
        pass

else:

    class EncryptedCharField(_OurKeys, encrypted.EncryptedCharField):
        """Text encrypted at rest; empty values are stored as NULL."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("null", True)
            kwargs.setdefault("blank", True)
            super().__init__(*args, **kwargs)

    class EncryptedTextField(_OurKeys, encrypted.EncryptedTextField):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("null", True)
            kwargs.setdefault("blank", True)
            super().__init__(*args, **kwargs)
