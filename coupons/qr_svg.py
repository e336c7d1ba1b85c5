"""QR codes as inline SVG, for the digital wallet's page.

The strict CSP forbids style attributes, so the symbol is drawn with presentation attributes
only (fill, shape-rendering). Coordinates are in modules: the viewBox is the symbol plus a
4-module quiet zone on each side, and CSS scales it to the screen.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from coupons.qr import qr_rows

QUIET_ZONE = 4  # modules of white around the symbol, as ISO/IEC 18004 requires
_DARK = 0


def dark_runs(rows: list[bytes]) -> list[tuple[int, int, int]]:
    """(x, y, width) of every horizontal run of dark modules, in symbol coordinates."""
    runs = []
    for y, row in enumerate(rows):
        x, size = 0, len(row)
        while x < size:
            if row[x] != _DARK:
                x += 1
                continue
            start = x
            while x < size and row[x] == _DARK:
                x += 1
            runs.append((start, y, x - start))
    return runs


def qr_svg(text: str, *, title: str) -> SafeString:
    """An accessible SVG (role="img" with a <title>) of `text` as a QR code.

    One <path> holds every dark run as "M x y h w v1 h-w z"; the white background covers the
    quiet zone, so the code scans on a dark page or in dark mode too. Safe to insert in HTML:
    the only text in it, the title, is escaped.
    """
    rows = qr_rows(text)
    side = len(rows) + 2 * QUIET_ZONE
    path = "".join(
        f"M{x + QUIET_ZONE} {y + QUIET_ZONE}h{width}v1h-{width}z" for x, y, width in dark_runs(rows)
    )
    return mark_safe(  # built here from numbers; the title is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" role="img" '
        f'shape-rendering="crispEdges" class="qr"><title>{escape(title)}</title>'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )
