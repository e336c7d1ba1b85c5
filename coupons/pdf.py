"""Printable coupon sheets (PDF).

This module is deliberately free of Django imports: callers convert their models into
:class:`PrintableCoupon` instances and get PDF bytes back.

Layout: US Letter, portrait, 8 coupons per page (2 columns x 4 rows), dashed cut lines between
cells. Coupons fill a page row by row, starting at the top left (slot 0 = top left, slot 1 = top
right, slot 2 = second row left, ...). Every coupon carries exactly one QR code, drawn as a single
vector path in the top-right corner of its cell; see :func:`coupon_slot_layout` for the geometry.

Only the PDF base-14 fonts are used (Helvetica, Courier). They are encoded with WinAnsi, which
covers French (é, è, à, ç, œ, ...); any character outside it is approximated before drawing so it
never shows up as a black box.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

__all__ = [
    "COLUMNS",
    "COUPONS_PER_PAGE",
    "PAGE_HEIGHT",
    "PAGE_WIDTH",
    "ROWS",
    "PrintableCoupon",
    "Rect",
    "SlotLayout",
    "coupon_slot_layout",
    "format_money_fr",
    "render_coupons_pdf",
]


@dataclass(frozen=True)
class PrintableCoupon:
    """Everything printed on one coupon; plain data, no model instances."""

    serial: str
    qr_text: str
    manual_code: str
    value: Decimal
    currency: str
    valid_from: date
    valid_until: date
    program_name: str
    categories: tuple[str, ...]
    holder: str | None = None


@dataclass(frozen=True)
class Rect:
    """A rectangle in PDF points, origin at the bottom-left corner of the page."""

    x: float
    y: float
    width: float
    height: float

    def to_pixels(self, dpi: float) -> tuple[int, int, int, int]:
        """Return ``(left, top, right, bottom)`` in pixels of a page rendered at ``dpi``.

        Pixel coordinates have their origin at the top-left corner, as in Pillow.
        """
        scale = dpi / 72.0
        left = round(self.x * scale)
        right = round((self.x + self.width) * scale)
        top = round((PAGE_HEIGHT - self.y - self.height) * scale)
        bottom = round((PAGE_HEIGHT - self.y) * scale)
        return left, top, right, bottom


@dataclass(frozen=True)
class SlotLayout:
    """Where one coupon lands on its page."""

    cell: Rect
    """The whole coupon, bounded by the cut lines."""
    qr_zone: Rect
    """The QR code including its 4-module white quiet zone (always this exact square)."""


PAGE_WIDTH, PAGE_HEIGHT = letter
COLUMNS = 2
ROWS = 4
COUPONS_PER_PAGE = COLUMNS * ROWS

_PAGE_MARGIN = 0.5 * inch
_CELL_WIDTH = (PAGE_WIDTH - 2 * _PAGE_MARGIN) / COLUMNS  # 270 pt = 3.75 in
_CELL_HEIGHT = (PAGE_HEIGHT - 2 * _PAGE_MARGIN) / ROWS  # 180 pt = 2.5 in
_CELL_PADDING = 6.0  # between the cut line and the QR quiet zone
_TEXT_PADDING = 10.0  # between the cut line and the text
_QR_QUIET_MODULES = 4
# Side of the QR square *including* the quiet zone. For the ~150-character signed texts
# (version 6, 41 modules) the symbol itself is then about 1.35 in wide.
_QR_ZONE_SIZE = 1.6 * inch
# The QR mask is fixed instead of searched. The search (8 full matrix builds plus penalty scoring
# in pure Python) was ~60 % of the rendering time; every mask yields a valid symbol, and our
# payload is a random-looking signature, so the penalty scores of the 8 masks barely differ.
_QR_MASK_PATTERN = 0

_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"
_FONT_CODE = "Courier-Bold"
_TEXT_COLOR = (0.0, 0.0, 0.0)
_MUTED_COLOR = (0.3, 0.3, 0.3)
_CUT_COLOR = (0.55, 0.55, 0.55)
_ELLIPSIS = "\u2026"

_NARROW_NBSP = "\u202f"
_NBSP = "\u00a0"
# Characters outside WinAnsi that we know a good stand-in for.
_WINANSI_SUBSTITUTES = str.maketrans(
    {
        _NARROW_NBSP: _NBSP,
        "\u2009": " ",  # thin space
        "\u2007": _NBSP,  # figure space
        "\u2011": "-",  # non-breaking hyphen
        "\u2212": "-",  # minus sign
    }
)


def format_money_fr(value: Decimal) -> str:
    """Format an amount the fr-CA way: ``5,00 $``, ``1 234,50 $``.

    Thousands are separated by a narrow no-break space (U+202F) and the dollar sign by a
    no-break space (U+00A0).
    """
    amount = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while len(units) > 3:
        groups.insert(0, units[-3:])
        units = units[:-3]
    groups.insert(0, units)
    return f"{sign}{_NARROW_NBSP.join(groups)},{cents}{_NBSP}$"


def coupon_slot_layout(slot: int) -> SlotLayout:
    """Geometry of slot ``slot`` (0-7, row by row from the top left) on every page."""
    if not 0 <= slot < COUPONS_PER_PAGE:
        raise ValueError(f"slot must be between 0 and {COUPONS_PER_PAGE - 1}, got {slot}")
    row, column = divmod(slot, COLUMNS)
    x = _PAGE_MARGIN + column * _CELL_WIDTH
    y = PAGE_HEIGHT - _PAGE_MARGIN - (row + 1) * _CELL_HEIGHT
    cell = Rect(x, y, _CELL_WIDTH, _CELL_HEIGHT)
    qr_zone = Rect(
        x + _CELL_WIDTH - _CELL_PADDING - _QR_ZONE_SIZE,
        y + _CELL_HEIGHT - _CELL_PADDING - _QR_ZONE_SIZE,
        _QR_ZONE_SIZE,
        _QR_ZONE_SIZE,
    )
    return SlotLayout(cell=cell, qr_zone=qr_zone)


def render_coupons_pdf(
    coupons: Sequence[PrintableCoupon], *, title: str, author: str = ""
) -> bytes:
    """Render ``coupons`` on Letter pages, 8 per page, and return the PDF bytes.

    Raises ``ValueError`` for an empty sequence: an empty PDF is never what the caller wants.
    """
    if not coupons:
        raise ValueError("render_coupons_pdf() needs at least one coupon")

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, pageCompression=1)
    canvas.setTitle(_pdf_text(title))
    canvas.setAuthor(_pdf_text(author))
    canvas.setSubject("Coupons")
    canvas.setCreator("coupons.pdf")

    layouts = [coupon_slot_layout(slot) for slot in range(COUPONS_PER_PAGE)]
    page_count = (len(coupons) + COUPONS_PER_PAGE - 1) // COUPONS_PER_PAGE
    for page_index in range(page_count):
        page = coupons[page_index * COUPONS_PER_PAGE : (page_index + 1) * COUPONS_PER_PAGE]
        _draw_page_header(canvas, title, page_index + 1, page_count)
        _draw_cut_lines(canvas, len(page))
        for coupon, layout in zip(page, layouts, strict=False):
            _draw_coupon(canvas, coupon, layout)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- Page furniture ---------------------------------------------------------------------------


def _draw_page_header(canvas: Canvas, title: str, page_number: int, page_count: int) -> None:
    size = 7.0
    baseline = PAGE_HEIGHT - _PAGE_MARGIN + 12
    page_label = f"Page {page_number} / {page_count}"
    label_width = stringWidth(page_label, _FONT, size)
    canvas.setFillColorRGB(*_MUTED_COLOR)
    canvas.setFont(_FONT, size)
    canvas.drawString(
        _PAGE_MARGIN,
        baseline,
        _fit_line(_pdf_text(title), _FONT, size, PAGE_WIDTH - 2 * _PAGE_MARGIN - label_width - 12),
    )
    canvas.drawRightString(PAGE_WIDTH - _PAGE_MARGIN, baseline, page_label)


def _draw_cut_lines(canvas: Canvas, coupons_on_page: int) -> None:
    """Dashed grid around the rows in use (a partial row keeps its empty neighbour framed)."""
    rows_used = (coupons_on_page + COLUMNS - 1) // COLUMNS
    left = _PAGE_MARGIN
    right = PAGE_WIDTH - _PAGE_MARGIN
    top = PAGE_HEIGHT - _PAGE_MARGIN
    bottom = top - rows_used * _CELL_HEIGHT
    canvas.saveState()
    canvas.setStrokeColorRGB(*_CUT_COLOR)
    canvas.setLineWidth(0.4)
    canvas.setDash(3, 3)
    path = canvas.beginPath()
    for row in range(rows_used + 1):
        y = top - row * _CELL_HEIGHT
        path.moveTo(left, y)
        path.lineTo(right, y)
    for column in range(COLUMNS + 1):
        x = left + column * _CELL_WIDTH
        path.moveTo(x, top)
        path.lineTo(x, bottom)
    canvas.drawPath(path, stroke=1, fill=0)
    canvas.restoreState()


# --- One coupon -------------------------------------------------------------------------------


def _draw_coupon(canvas: Canvas, coupon: PrintableCoupon, layout: SlotLayout) -> None:
    cell = layout.cell
    _draw_qr(canvas, coupon.qr_text, layout.qr_zone)

    left = cell.x + _TEXT_PADDING
    column_width = layout.qr_zone.x - left - 4
    full_width = cell.width - 2 * _TEXT_PADDING
    canvas.setFillColorRGB(*_TEXT_COLOR)

    # Left column, top to bottom, next to the QR code.
    cursor = cell.y + cell.height - _TEXT_PADDING
    name_size, name_lines = _layout_name(_pdf_text(coupon.program_name), column_width)
    canvas.setFont(_FONT_BOLD, name_size)
    for line in name_lines:
        cursor -= name_size + 1.5
        canvas.drawString(left, cursor, line)

    value_text = _pdf_text(_format_value(coupon.value, coupon.currency))
    value_size = _fit_size(value_text, _FONT_BOLD, 24.0, 12.0, column_width)
    cursor -= value_size + 2
    canvas.setFont(_FONT_BOLD, value_size)
    canvas.drawString(left, cursor, value_text)

    small = 7.0
    canvas.setFont(_FONT, small)
    validity = (
        f"Valide du / Valid from {coupon.valid_from.isoformat()}",
        f"au / to {coupon.valid_until.isoformat()}",
    )
    cursor -= 4
    for line in validity:
        cursor -= small + 1.5
        canvas.drawString(left, cursor, _fit_line(line, _FONT, small, column_width))

    # Bottom band, full cell width, under the QR code.
    bottom_line = cell.y + _TEXT_PADDING
    tiny = 6.5
    canvas.setFont(_FONT, tiny)
    serial_text = _pdf_text(f"Série / Serial: {coupon.serial}")
    holder_text = _pdf_text(coupon.holder) if coupon.holder else ""
    holder_width = 0.0
    if holder_text:
        holder_text = _fit_line(holder_text, _FONT, tiny, full_width / 2 - 4)
        holder_width = stringWidth(holder_text, _FONT, tiny)
        canvas.drawRightString(cell.x + cell.width - _TEXT_PADDING, bottom_line, holder_text)
    canvas.drawString(
        left, bottom_line, _fit_line(serial_text, _FONT, tiny, full_width - holder_width - 8)
    )

    code_text = _pdf_text(coupon.manual_code)
    code_size = _fit_size(code_text, _FONT_CODE, 16.0, 8.0, full_width)
    code_baseline = bottom_line + 6 + tiny
    canvas.setFont(_FONT_CODE, code_size)
    canvas.drawString(left, code_baseline, code_text)
    label_baseline = code_baseline + code_size * 0.8 + 3
    canvas.setFont(_FONT, tiny)
    canvas.setFillColorRGB(*_MUTED_COLOR)
    canvas.drawString(left, label_baseline, "Code manuel / Manual code")
    canvas.setFillColorRGB(*_TEXT_COLOR)

    # Eligible products fill what is left of the left column, above the bottom band.
    floor = label_baseline + tiny + 3
    products = ", ".join(_pdf_text(category) for category in coupon.categories) or "-"
    cursor -= 3
    size, label_lines, product_lines = _layout_products(products, column_width, cursor - floor)
    leading = size + _PRODUCTS_LEADING_EXTRA
    canvas.setFont(_FONT_BOLD, size)
    for line in label_lines:
        cursor -= leading
        canvas.drawString(left, cursor, line)
    canvas.setFont(_FONT, size)
    for line in product_lines:
        cursor -= leading
        canvas.drawString(left, cursor, line)


def _draw_qr(canvas: Canvas, text: str, zone: Rect) -> None:
    """Draw ``text`` as one QR code filling ``zone`` (quiet zone included), as one vector path."""
    matrix = _qr_matrix(text)
    size = len(matrix)
    module = zone.width / (size + 2 * _QR_QUIET_MODULES)
    # White background so the quiet zone survives whatever is printed around it.
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(zone.x, zone.y, zone.width, zone.height, stroke=0, fill=1)

    canvas.saveState()
    # Work in module units, so every coordinate is a small integer.
    canvas.translate(zone.x + _QR_QUIET_MODULES * module, zone.y + _QR_QUIET_MODULES * module)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    # One path: a rectangle per horizontal run of dark modules, filled once. The operators are
    # written directly ("x y w h re" ... "f", what PDFPathObject.rect + drawPath(fill=1) emit)
    # because reportlab's pure-Python number formatting was ~40 % of the rendering time.
    operators: list[str] = []
    for row_index, row in enumerate(matrix):
        y = size - 1 - row_index
        column = 0
        while column < size:
            if row[column]:
                start = column
                while column < size and row[column]:
                    column += 1
                operators.append(f"{start} {y} {column - start} 1 re")
            else:
                column += 1
    operators.append("f")
    canvas.addLiteral("\n".join(operators))
    canvas.restoreState()


def _qr_matrix(text: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=_QR_MASK_PATTERN)
    # optimize=0 keeps the whole text in one segment: alphanumeric mode for our uppercase texts.
    qr.add_data(text, optimize=0)
    qr.make(fit=True)
    return qr.get_matrix()


# --- Text helpers -----------------------------------------------------------------------------


def _format_value(value: Decimal, currency: str) -> str:
    if currency.upper() == "CAD":
        return format_money_fr(value)
    return format_money_fr(value).replace("$", currency.upper())


@lru_cache(maxsize=64)
def _layout_name(name: str, width: float) -> tuple[float, tuple[str, ...]]:
    """Program name on two lines, shrinking if needed; a third line and an ellipsis last."""
    for size in (9.0, 8.0, 7.0):
        lines = _wrap(name, _FONT_BOLD, size, width)
        if len(lines) <= 2:
            return size, lines
    return 7.0, _wrap_fitted(name, _FONT_BOLD, 7.0, width, 3)


_PRODUCTS_LABEL = "Produits admissibles / Eligible products:"
_PRODUCTS_SIZES = (7.0, 6.5, 6.0, 5.5, 5.0)
_PRODUCTS_LEADING_EXTRA = 1.2


@lru_cache(maxsize=256)
def _layout_products(
    products: str, width: float, height: float
) -> tuple[float, tuple[str, ...], tuple[str, ...]]:
    """Font size, label lines and product lines that fit in ``width`` x ``height``.

    Shrinks the text down to the smallest size, then cuts the list with an ellipsis.
    """
    for size in _PRODUCTS_SIZES:
        max_lines = int(height // (size + _PRODUCTS_LEADING_EXTRA))
        label_lines = _wrap(_PRODUCTS_LABEL, _FONT_BOLD, size, width)
        product_lines = _wrap(products, _FONT, size, width)
        if len(label_lines) + len(product_lines) <= max_lines:
            return size, label_lines, product_lines
    size = _PRODUCTS_SIZES[-1]
    label_lines = _wrap(_PRODUCTS_LABEL, _FONT_BOLD, size, width)
    max_lines = int(height // (size + _PRODUCTS_LEADING_EXTRA))
    available = max(max_lines - len(label_lines), 1)
    return size, label_lines, _wrap_fitted(products, _FONT, size, width, available)


@lru_cache(maxsize=4096)
def _pdf_text(text: str) -> str:
    """Make ``text`` drawable with the WinAnsi-encoded base-14 fonts."""
    text = unicodedata.normalize("NFC", text).translate(_WINANSI_SUBSTITUTES)
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        pass
    else:
        return text
    chars: list[str] = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore")
            chars.append(decomposed.decode("cp1252") or "?")
        else:
            chars.append(char)
    return "".join(chars)


@lru_cache(maxsize=1024)
def _fit_size(text: str, font: str, max_size: float, min_size: float, width: float) -> float:
    """The largest size (at most ``max_size``, at least ``min_size``) at which ``text`` fits."""
    natural = stringWidth(text, font, max_size)
    if natural <= width:
        return max_size
    return max(min_size, max_size * width / natural)


@lru_cache(maxsize=4096)
def _fit_line(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if needed to fit ``width``."""
    if stringWidth(text, font, size) <= width:
        return text
    base = text
    while base and stringWidth(base.rstrip(" ,") + _ELLIPSIS, font, size) > width:
        base = base[:-1]
    return base.rstrip(" ,") + _ELLIPSIS


@lru_cache(maxsize=1024)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Greedy word wrap; words longer than a line are split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if stringWidth(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while stringWidth(current, font, size) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and stringWidth(current[:cut], font, size) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    return tuple(lines)


@lru_cache(maxsize=256)
def _wrap_fitted(
    text: str, font: str, size: float, width: float, max_lines: int
) -> tuple[str, ...]:
    """Wrap ``text`` on at most ``max_lines`` lines, the last one cut with an ellipsis."""
    lines = _wrap(text, font, size, width)
    if len(lines) <= max_lines:
        return lines
    last = " ".join((lines[max_lines - 1], *lines[max_lines:]))
    return (*lines[: max_lines - 1], _fit_line(last, font, size, width))
