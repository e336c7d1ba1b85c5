"""A program's logo: any common image, checked and re-encoded as a small PNG.

Re-encoding drops what a photo file may carry (location, camera, comments) and bounds what the
PDF printer has to embed on every page.
"""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE = 600  # pixels: about 2 inches at 300 dpi, far more than a coupon's corner needs
_ACCEPTED_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class LogoError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_logo(data: bytes) -> bytes:
    """The PNG bytes to keep for an uploaded image; raises LogoError for anything else."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise LogoError("logo_too_large", _("Le logo pèse au plus 2 Mo."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in _ACCEPTED_FORMATS:
                raise LogoError(
                    "logo_format", _("Le logo doit être une image PNG, JPEG, GIF ou WebP.")
                )
            if image.width * image.height > 40_000_000:
                raise LogoError("logo_too_large", _("Le logo est une image trop grande."))
            image.load()
            rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise LogoError(
            "logo_format", _("Le logo doit être une image PNG, JPEG, GIF ou WebP.")
        ) from error
    rgba.thumbnail((MAX_SIDE, MAX_SIDE))
    # Transparent areas print white.
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    return out.getvalue()
