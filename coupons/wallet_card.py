"""The wallet card (PDF): one large QR code of a household's wallet link, to hand over.

Half-letter landscape (8.5 x 5.5 in: two cards per Letter sheet once cut, or card stock). Like
coupons/pdf.py this module is free of Django: the caller passes the texts, already translated.
Only the base-14 fonts are used; characters outside WinAnsi are approximated.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from coupons.qr import qr_rows

PAGE_WIDTH, PAGE_HEIGHT = 8.5 * inch, 5.5 * inch
MARGIN = 0.5 * inch
QR_SIDE = 4.0 * inch  # a 100-character URL: about 1.7 mm per module, read from arm's length
QR_QUIET_MODULES = 4
_FONT, _FONT_BOLD = "Helvetica", "Helvetica-Bold"
_DARK = 0


@dataclass(frozen=True)
class WalletCard:
    """What the card says; `instructions` are paragraphs, one per language."""

    url: str
    program_name: str
    household_label: str
    instructions: Sequence[str]
    warning: Sequence[str]


def render_wallet_card(card: WalletCard) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), pageCompression=1)
    canvas.setTitle(_pdf_text(card.program_name))
    canvas.setAuthor("Coupons nourriciers")
    # A light frame to cut along.
    canvas.setStrokeColorRGB(0.6, 0.6, 0.6)
    canvas.setLineWidth(0.5)
    canvas.setDash(4, 3)
    canvas.roundRect(MARGIN / 2, MARGIN / 2, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN, 12)
    canvas.setDash()
    qr_y = (PAGE_HEIGHT - QR_SIDE) / 2
    draw_qr(canvas, card.url, MARGIN, qr_y, QR_SIDE)

    left = MARGIN + QR_SIDE + 0.3 * inch
    width = PAGE_WIDTH - MARGIN - left
    cursor = PAGE_HEIGHT - MARGIN
    canvas.setFillColorRGB(0, 0, 0)
    cursor = _paragraph(canvas, card.program_name, _FONT_BOLD, 16, left, cursor, width)
    cursor = _paragraph(canvas, card.household_label, _FONT, 12, left, cursor - 4, width)
    cursor -= 10
    for text in card.instructions:
        cursor = _paragraph(canvas, text, _FONT_BOLD, 11, left, cursor - 6, width)
    cursor -= 10
    for text in card.warning:
        cursor = _paragraph(canvas, text, _FONT, 9, left, cursor - 4, width)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def draw_qr(canvas: Canvas, text: str, x: float, y: float, side: float) -> None:
    """`text` as one QR code in the square (x, y, side), quiet zone included, as one path."""
    rows = qr_rows(text)
    size = len(rows)
    module = side / (size + 2 * QR_QUIET_MODULES)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.saveState()
    canvas.translate(x + QR_QUIET_MODULES * module, y + QR_QUIET_MODULES * module)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    # One rectangle per horizontal run of dark modules, filled once (PDF's y axis goes up).
    operators: list[str] = []
    for index, row in enumerate(rows):
        row_y = size - 1 - index
        column = 0
        while column < size:
            if row[column] != _DARK:
                column += 1
                continue
            start = column
            while column < size and row[column] == _DARK:
                column += 1
            operators.append(f"{start} {row_y} {column - start} 1 re")
    operators.append("f")
    canvas.addLiteral("\n".join(operators))
    canvas.restoreState()


def _paragraph(
    canvas: Canvas, text: str, font: str, size: float, x: float, top: float, width: float
) -> float:
    """Draw `text` wrapped to `width` below `top`; returns the new top."""
    canvas.setFont(font, size)
    for line in _wrap(_pdf_text(text), font, size, width):
        top -= size * 1.25
        canvas.drawString(x, top, line)
    return top


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _pdf_text(text: str) -> str:
    """`text` drawable with the WinAnsi-encoded base-14 fonts (others approximated)."""
    chars = []
    for char in unicodedata.normalize("NFC", text).replace("\u202f", "\xa0"):
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore")
            chars.append(decomposed.decode("cp1252") or "?")
        else:
            chars.append(char)
    return "".join(chars)
