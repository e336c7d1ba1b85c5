"""Printable coupon sheets (PDF).

This module is deliberately free of Django imports: callers convert their models into
:class:`PrintableCoupon` instances and get a PDF back, as bytes (:func:`render_coupons_pdf`) or
written to a binary file (:func:`stream_coupons_pdf`).

Layout: US Letter, portrait, 8 coupons per page (2 columns x 4 rows), dashed cut lines between
cells and solid crop marks in the margins where each cut line runs. Coupons fill a page row by
row, starting at the top left (slot 0 = top left, slot 1 = top right, slot 2 = second row
left, ...). Every coupon carries exactly one QR code, drawn as a single vector path in the
top-right corner of its cell; see :func:`coupon_slot_layout` for the geometry. The program's
logo, when there is one, is embedded once per document and drawn small in the top-left corner
of every coupon.

Only the PDF base-14 fonts are used (Helvetica, Courier). They are encoded with WinAnsi, which
covers French (é, è, à, ç, œ, ...); any character outside it is approximated before drawing so it
never shows up as a black box.

Scale: a batch of 10,000 coupons is a 1,250-page document. Coupons are read from an iterable one
page at a time, and each finished page is written to the output file at once (see
:class:`_StreamingDocument`): memory does not grow with the batch. The coupon's text, which is
the same for every coupon of a program, value and validity, is laid out once and reused; the
page's operators are written directly (``canvas.addLiteral``) because reportlab's general
drawing calls, in pure Python, would cost more than everything else together (bench/).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import islice
from typing import Any, BinaryIO

from PIL import Image, UnidentifiedImageError
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfdoc import (
    PDFCrossReferenceTable,
    PDFDocument,
    PDFFile,
    PDFIndirectObject,
    PDFName,
    PDFObject,
    PDFPage,
    PDFStream,
    PDFTrailer,
)
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from coupons.qr import qr_rows

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
    "page_count",
    "render_coupons_pdf",
    "stream_coupons_pdf",
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
    logo_zone: Rect
    """The box the program's logo is fitted into (top left, aspect ratio kept)."""


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
# Side of the QR square *including* the quiet zone. For the 145-character signed texts
# (version 6, 41 modules) the symbol itself is then about 1.35 in wide.
_QR_ZONE_SIZE = 1.6 * inch
_LOGO_SIZE = 24.0  # a third of an inch: the logo identifies, the value informs
_LOGO_GAP = 4.0
# Enough pixels for 300 dpi at _LOGO_SIZE, so a large logo is not embedded at full size.
_LOGO_MAX_PIXELS = 150

_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"
_FONT_CODE = "Courier-Bold"
_TEXT_COLOR = "0 0 0 rg"
_MUTED_COLOR = "0.3 0.3 0.3 rg"
_CUT_COLOR = "0.55 0.55 0.55 RG"
_ELLIPSIS = "\u2026"

_VALUE_MAX_SIZE = 30.0  # coupons give no change: the value is the biggest thing on them
_VALUE_MIN_SIZE = 14.0
_NO_CHANGE = "Aucune monnaie rendue / No change given"
_PRODUCTS_LABEL = "Produits admissibles / Eligible products:"
_PRODUCTS_SIZES = (7.0, 6.5, 6.0, 5.5, 5.0)
_PRODUCTS_LEADING_EXTRA = 1.2
_SMALL = 7.0
_TINY = 6.5

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


def page_count(coupon_count: int) -> int:
    """How many pages ``coupon_count`` coupons take."""
    return -(-coupon_count // COUPONS_PER_PAGE)


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
    logo_zone = Rect(
        x + _TEXT_PADDING,
        y + _CELL_HEIGHT - _TEXT_PADDING - _LOGO_SIZE,
        _LOGO_SIZE,
        _LOGO_SIZE,
    )
    return SlotLayout(cell=cell, qr_zone=qr_zone, logo_zone=logo_zone)


def render_coupons_pdf(
    coupons: Iterable[PrintableCoupon],
    *,
    title: str,
    author: str = "",
    logo_png: bytes | None = None,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """Render ``coupons`` on Letter pages, 8 per page, and return the PDF bytes.

    For a household's booklet or a small batch; a large batch goes to a file with
    :func:`stream_coupons_pdf`. Raises ``ValueError`` when there is no coupon: an empty PDF is
    never what the caller wants.
    """
    buffer = io.BytesIO()
    stream_coupons_pdf(
        coupons, buffer, title=title, author=author, logo_png=logo_png, progress=progress
    )
    return buffer.getvalue()


def stream_coupons_pdf(
    coupons: Iterable[PrintableCoupon],
    out: BinaryIO,
    *,
    title: str,
    author: str = "",
    logo_png: bytes | None = None,
    total: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the PDF of ``coupons`` to ``out``, page by page, and return how many were printed.

    ``coupons`` may be any iterable (a generator over a database cursor): it is read 8 coupons
    at a time, and each page is written to ``out`` as soon as it is drawn. ``total`` (or
    ``len(coupons)`` when it has one) numbers the pages "Page n / N"; without it they read
    "Page n". ``logo_png`` is the program's logo, embedded once. ``progress``, if given, is
    called with the number of coupons drawn so far after every page.

    Raises ``ValueError``, before writing anything, when there is no coupon or the logo is not
    an image.
    """
    iterator = iter(coupons)
    first_page = list(islice(iterator, COUPONS_PER_PAGE))
    if not first_page:
        raise ValueError("stream_coupons_pdf() needs at least one coupon")
    if total is None and isinstance(coupons, Sized):
        total = len(coupons)
    logo = _Logo.from_png(logo_png) if logo_png else None

    sheet = _Sheet(out, title=title, author=author, logo=logo)
    pages_total = page_count(total) if total else None
    drawn = 0
    page = first_page
    while page:
        sheet.draw_page(page, drawn // COUPONS_PER_PAGE + 1, pages_total)
        drawn += len(page)
        if progress is not None:
            progress(drawn)
        page = list(islice(iterator, COUPONS_PER_PAGE))
    sheet.finish()
    return drawn


# --- The PDF file, written as it goes -----------------------------------------------------------


class _Written(PDFObject):
    """Stands for an object already written to the file, so that its content can be freed."""


_WRITTEN = _Written()


class _StreamingDocument(PDFDocument):
    """A reportlab document that writes each page to the file as soon as the page is done.

    reportlab keeps every page in memory until ``save()``, then formats the whole file at once:
    for a batch of 10,000 coupons that is hundreds of megabytes. Here a finished page and its
    content stream are formatted and written at once; the objects every page shares (fonts,
    the logo, the page tree, the catalog) are written at the end, where the cross-reference
    table gives every object's offset whatever its place in the file.
    """

    def __init__(self, out: BinaryIO, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._out = out
        self._position = 0
        self._written: set[str] = set()
        # Registered now: formatting the first page would otherwise register the page tree
        # among that page's own objects, and write it before it knows the other pages.
        self.Reference(self.Pages)
        header = PDFFile(self._pdfVersion)
        self._emit(b"".join(header.strings))

    def _emit(self, data: bytes) -> int:
        position = self._position
        self._out.write(data)
        self._position += len(data)
        return position

    def _write_object(self, internal_name: str) -> None:
        indirect = PDFIndirectObject(internal_name, self.idToObject[internal_name])
        self.idToOffset[internal_name] = self._emit(indirect.format(self))
        self._written.add(internal_name)

    def addPage(self, page: PDFPage) -> None:  # reportlab's name
        super().addPage(page)
        if page.stream is not None:
            # Compressed here, without the ASCII85 layer reportlab adds by default: that layer
            # is pure Python, was half the rendering time, and makes the file a quarter larger.
            contents = PDFStream(content=zlib.compress(page.stream.encode("utf-8")))
            contents.dictionary["Filter"] = PDFName("FlateDecode")
            page.Contents = contents
        last_before = self.objectcounter
        self._write_object(page.__InternalName__)
        # Formatting the page registered its content stream: write it now, and free both.
        for number in range(last_before + 1, self.objectcounter + 1):
            name = self.numberToId[number]
            if isinstance(self.idToObject[name], PDFStream):
                self._write_object(name)
                self.idToObject[name] = _WRITTEN
        page.stream = None
        page.Contents = None
        page.Resources = None

    def finish(self, canvas: Canvas) -> None:
        """Write what is left (shared objects), the cross-reference table and the trailer."""
        # What PDFDocument.GetPDFData does before formatting.
        for font in self.delayedFonts:
            font.addObjects(self)
        self.info.invariant = self.invariant
        self.info.digest(self.signature)
        self.Reference(self.Catalog)
        self.Reference(self.info)
        self.Outlines.prepare(self, canvas)
        if self.Outlines.ready < 0:
            self.Catalog.Outlines = None
        self.encrypt.prepare(self)
        # Formatting an object may register new ones: walk the numbers until none is left.
        number = 1
        while number in self.numberToId:
            name = self.numberToId[number]
            if name not in self._written:
                self._write_object(name)
            number += 1
        ids = [self.numberToId[n] for n in range(1, number)]
        xref = PDFCrossReferenceTable()
        xref.addsection(0, ids)
        xref_offset = self._emit(xref.format(self))
        trailer = PDFTrailer(
            startxref=xref_offset,
            Size=len(ids) + 1,
            Root=self.Reference(self.Catalog),
            Info=self.Reference(self.info),
            ID=self.ID(),
        )
        self._emit(trailer.format(self))


class _StreamingCanvas(Canvas):
    def __init__(self, out: BinaryIO) -> None:
        super().__init__(out, pagesize=letter, pageCompression=1)
        self.document = _StreamingDocument(out, compression=1)
        self._doc = self.document
        self._make_preamble()  # registers the initial font with the new document

    def save(self) -> None:
        if len(self._code):
            self.showPage()
        self.document.finish(self)


# --- Sheets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Logo:
    reader: ImageReader
    width: float  # in points, fitted into _LOGO_SIZE x _LOGO_SIZE
    height: float

    @classmethod
    def from_png(cls, data: bytes) -> _Logo:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                picture = image.convert("RGB")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
            raise ValueError("logo_png is not a readable image") from error
        picture.thumbnail((_LOGO_MAX_PIXELS, _LOGO_MAX_PIXELS))
        scale = _LOGO_SIZE / max(picture.width, picture.height)
        return cls(ImageReader(picture), picture.width * scale, picture.height * scale)


@dataclass(frozen=True)
class _Block:
    """The part of a coupon that only depends on its program, value and validity."""

    operators: str
    code_size: float
    code_baseline: float


_DARK_RUNS = re.compile(rb"\x00+")
_LOGO_FORM = "logo"


class _Sheet:
    """Draws pages of coupons on a streaming canvas.

    Coordinates inside a coupon are relative to its cell's bottom-left corner: each coupon is
    drawn inside ``q 1 0 0 1 x y cm ... Q``, so the same laid-out text serves every slot.
    """

    def __init__(self, out: BinaryIO, *, title: str, author: str, logo: _Logo | None) -> None:
        canvas = self.canvas = _StreamingCanvas(out)
        canvas.setTitle(_pdf_text(title))
        canvas.setAuthor(_pdf_text(author))
        canvas.setSubject("Coupons")
        canvas.setCreator("coupons.pdf")
        document = canvas.document
        self.font = document.getInternalFontName(_FONT)
        self.bold = document.getInternalFontName(_FONT_BOLD)
        self.mono = document.getInternalFontName(_FONT_CODE)
        self.title = _fit_line(_pdf_text(title), _FONT, 7.0, PAGE_WIDTH - 2 * _PAGE_MARGIN - 60)
        self.logo = logo
        if logo is not None:
            # One form holding the image, in cell coordinates: the image is embedded once and
            # each coupon only says "/FormXob.logo Do".
            zone = coupon_slot_layout(0).logo_zone
            cell = coupon_slot_layout(0).cell
            canvas.beginForm(_LOGO_FORM, 0, 0, _CELL_WIDTH, _CELL_HEIGHT)
            canvas.drawImage(
                logo.reader,
                zone.x - cell.x,
                zone.y - cell.y + zone.height - logo.height,
                logo.width,
                logo.height,
            )
            canvas.endForm()
        self.origins = [
            (layout.cell.x, layout.cell.y)
            for layout in (coupon_slot_layout(slot) for slot in range(COUPONS_PER_PAGE))
        ]
        self.blocks: dict[tuple[Any, ...], _Block] = {}

    def draw_page(
        self, coupons: list[PrintableCoupon], number: int, pages_total: int | None
    ) -> None:
        canvas = self.canvas
        canvas.addLiteral(self._page_furniture(len(coupons), number, pages_total))
        for coupon, (x, y) in zip(coupons, self.origins, strict=False):
            block = self._block(coupon)
            canvas.addLiteral(f"q 1 0 0 1 {_num(x)} {_num(y)} cm\n{block.operators}")
            if self.logo is not None:
                canvas.doForm(_LOGO_FORM)
            canvas.addLiteral(self._coupon_operators(coupon, block))
        canvas.showPage()

    def finish(self) -> None:
        self.canvas.save()

    # --- Page furniture

    def _page_furniture(self, coupons_on_page: int, number: int, pages_total: int | None) -> str:
        baseline = PAGE_HEIGHT - _PAGE_MARGIN + 12
        # Without a total (or past a total that was wrong), the page's number alone.
        known = pages_total is not None and number <= pages_total
        label = f"Page {number} / {pages_total}" if known else f"Page {number}"
        label_x = PAGE_WIDTH - _PAGE_MARGIN - stringWidth(label, _FONT, 7.0)
        return "\n".join(
            (
                _MUTED_COLOR,
                _text(self.font, 7.0, _PAGE_MARGIN, baseline, self.title),
                _text(self.font, 7.0, label_x, baseline, label),
                _cut_marks((coupons_on_page + COLUMNS - 1) // COLUMNS),
            )
        )

    # --- One coupon

    def _block(self, coupon: PrintableCoupon) -> _Block:
        key = (
            coupon.program_name,
            coupon.categories,
            coupon.value,
            coupon.currency,
            coupon.valid_from,
            coupon.valid_until,
            len(coupon.manual_code),
        )
        block = self.blocks.get(key)
        if block is None:
            if len(self.blocks) >= 512:
                self.blocks.clear()
            block = self.blocks[key] = self._layout_block(coupon)
        return block

    def _layout_block(self, coupon: PrintableCoupon) -> _Block:
        """Name, value, validity, eligible products and the manual code's label."""
        ops: list[str] = [_TEXT_COLOR]
        qr_x = _CELL_WIDTH - _CELL_PADDING - _QR_ZONE_SIZE
        left = _TEXT_PADDING
        column_width = qr_x - left - 4
        full_width = _CELL_WIDTH - 2 * _TEXT_PADDING
        top = _CELL_HEIGHT - _TEXT_PADDING

        # Left column, top to bottom, next to the QR code; the logo (if any) beside the name.
        name_left = left
        logo_bottom = top
        if self.logo is not None:
            name_left = left + self.logo.width + _LOGO_GAP
            logo_bottom = top - self.logo.height
        name_size, name_lines = _layout_name(
            _pdf_text(coupon.program_name), column_width - (name_left - left)
        )
        cursor = top
        for line in name_lines:
            cursor -= name_size + 1.5
            ops.append(_text(self.bold, name_size, name_left, cursor, line))
        cursor = min(cursor, logo_bottom)

        value_text = _pdf_text(_format_value(coupon.value, coupon.currency))
        value_size = _fit_size(
            value_text, _FONT_BOLD, _VALUE_MAX_SIZE, _VALUE_MIN_SIZE, column_width
        )
        cursor -= value_size * 0.85 + 3
        ops.append(_text(self.bold, value_size, left, cursor, value_text))
        cursor -= _TINY + 4
        ops.append(_MUTED_COLOR)
        ops.append(
            _text(self.font, _TINY, left, cursor, _fit_line(_NO_CHANGE, _FONT, _TINY, column_width))
        )
        ops.append(_TEXT_COLOR)

        validity = (
            f"Valide du / Valid from {coupon.valid_from.isoformat()}",
            f"au / to {coupon.valid_until.isoformat()}",
        )
        cursor -= 3
        for line in validity:
            cursor -= _SMALL + 1.5
            fitted = _fit_line(line, _FONT, _SMALL, column_width)
            ops.append(_text(self.font, _SMALL, left, cursor, fitted))

        # Bottom band, full width: the manual code's label (the code itself is per coupon).
        bottom_line = _TEXT_PADDING
        code_size = _fit_size("M" * len(coupon.manual_code), _FONT_CODE, 16.0, 8.0, full_width)
        code_baseline = bottom_line + 6 + _TINY
        label_baseline = code_baseline + code_size * 0.8 + 3
        ops.append(_MUTED_COLOR)
        ops.append(_text(self.font, _TINY, left, label_baseline, "Code manuel / Manual code"))
        ops.append(_TEXT_COLOR)

        # Eligible products fill what is left of the left column, above the bottom band.
        floor = label_baseline + _TINY + 3
        products = ", ".join(_pdf_text(category) for category in coupon.categories) or "-"
        cursor -= 3
        size, label_lines, product_lines = _layout_products(products, column_width, cursor - floor)
        leading = size + _PRODUCTS_LEADING_EXTRA
        for line in label_lines:
            cursor -= leading
            ops.append(_text(self.bold, size, left, cursor, line))
        for line in product_lines:
            cursor -= leading
            ops.append(_text(self.font, size, left, cursor, line))
        return _Block("\n".join(ops), code_size, code_baseline)

    def _coupon_operators(self, coupon: PrintableCoupon, block: _Block) -> str:
        """Serial, holder, manual code and QR code: what differs from one coupon to the next."""
        left = _TEXT_PADDING
        right = _CELL_WIDTH - _TEXT_PADDING
        full_width = right - left
        ops: list[str] = []
        holder_width = 0.0
        if coupon.holder:
            holder = _fit_line(_pdf_text(coupon.holder), _FONT, _TINY, full_width / 2 - 4)
            holder_width = stringWidth(holder, _FONT, _TINY)
            ops.append(_text(self.font, _TINY, right - holder_width, _TEXT_PADDING, holder))
        serial = _fit_line(
            _pdf_text(f"Série / Serial: {coupon.serial}"),
            _FONT,
            _TINY,
            full_width - holder_width - 8,
        )
        ops.append(_text(self.font, _TINY, left, _TEXT_PADDING, serial))
        ops.append(
            _text(
                self.mono,
                block.code_size,
                left,
                block.code_baseline,
                _pdf_text(coupon.manual_code),
            )
        )
        ops.append(_qr_operators(coupon.qr_text))
        ops.append("Q")
        return "\n".join(ops)


# --- Operators --------------------------------------------------------------------------------


def _qr_operators(text: str) -> str:
    """``text`` as one QR code filling the QR zone (quiet zone included), as one vector path.

    The zone is cleared to white first, so the quiet zone survives whatever is printed around
    it. Then one path: a rectangle per horizontal run of dark modules, filled once, in module
    units (every coordinate a small integer).
    """
    rows = qr_rows(text)
    size = len(rows)
    module = _QR_ZONE_SIZE / (size + 2 * _QR_QUIET_MODULES)
    zone_x = _CELL_WIDTH - _CELL_PADDING - _QR_ZONE_SIZE
    zone_y = _CELL_HEIGHT - _CELL_PADDING - _QR_ZONE_SIZE
    origin = _QR_QUIET_MODULES * module
    size_str = _num(_QR_ZONE_SIZE)
    parts = [
        f"1 1 1 rg {_num(zone_x)} {_num(zone_y)} {size_str} {size_str} re f",
        f"q {module:.5f} 0 0 {module:.5f} {zone_x + origin:.4f} {zone_y + origin:.4f} cm 0 0 0 rg",
    ]
    append = parts.append
    for index, row in enumerate(rows):
        y = f" {size - 1 - index} "
        for run in _DARK_RUNS.finditer(row):
            start, end = run.span()
            append(f"{start}{y}{end - start} 1 re")
    append("f Q")
    return "\n".join(parts)


@lru_cache(maxsize=8)
def _cut_marks(rows_used: int) -> str:
    """Dashed grid around the rows in use (a partial row keeps its empty neighbour framed), and
    solid crop marks in the margins where each cut line runs, for a guillotine."""
    left = _PAGE_MARGIN
    right = PAGE_WIDTH - _PAGE_MARGIN
    top = PAGE_HEIGHT - _PAGE_MARGIN
    bottom = top - rows_used * _CELL_HEIGHT
    grid: list[str] = []
    marks: list[str] = []
    for row in range(rows_used + 1):
        y = _num(top - row * _CELL_HEIGHT)
        grid.append(f"{_num(left)} {y} m {_num(right)} {y} l")
        marks.append(f"{_num(left - 24)} {y} m {_num(left - 6)} {y} l")
        marks.append(f"{_num(right + 6)} {y} m {_num(right + 24)} {y} l")
    for column in range(COLUMNS + 1):
        x = _num(left + column * _CELL_WIDTH)
        grid.append(f"{x} {_num(top)} m {x} {_num(bottom)} l")
        marks.append(f"{x} {_num(bottom - 6)} m {x} {_num(max(bottom - 24, 6))} l")
    return "\n".join(
        (
            f"q {_CUT_COLOR} 0.4 w [3 3] 0 d",
            *grid,
            "S [] 0 d 0.5 w",
            *marks,
            "S Q",
        )
    )


def _num(value: float) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# WinAnsi bytes as they must appear inside a PDF literal string "(...)".
_LITERAL_BYTES = [
    chr(byte) if 32 <= byte < 127 and chr(byte) not in "\\()" else f"\\{byte:03o}"
    for byte in range(256)
]
_PLAIN_ASCII = re.compile(r"[ -'*-\[\]-~]*")


def _literal(text: str) -> str:
    """``text`` (already WinAnsi-safe, see _pdf_text) as the inside of a PDF literal string."""
    if _PLAIN_ASCII.fullmatch(text):
        return text
    return "".join([_LITERAL_BYTES[byte] for byte in text.encode("cp1252")])


def _text(font: str, size: float, x: float, y: float, text: str) -> str:
    return f"BT {font} {_num(size)} Tf {_num(x)} {_num(y)} Td ({_literal(text)}) Tj ET"


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
