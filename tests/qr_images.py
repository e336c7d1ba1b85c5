"""Test helpers: rasterise PDF pages and find the QR codes on them."""

from __future__ import annotations

from dataclasses import dataclass

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


@dataclass(frozen=True)
class DecodedQR:
    """One decoded QR code; the box is in pixels of the decoded image (origin top left)."""

    text: str
    left: int
    top: int
    right: int
    bottom: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)``, as Pillow's ``Image.crop`` expects."""
        return self.left, self.top, self.right, self.bottom

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


def render_pdf_page(pdf_bytes: bytes, page_index: int = 0, dpi: int = 200) -> Image.Image:
    """Render one page of a PDF to an RGB Pillow image at ``dpi``."""
    document = pdfium.PdfDocument(pdf_bytes)
    try:
        page = document[page_index]
        try:
            bitmap = page.render(scale=dpi / 72)
            try:
                return bitmap.to_pil().convert("RGB")
            finally:
                bitmap.close()
        finally:
            page.close()
    finally:
        document.close()


def decode_qr_codes(image: Image.Image) -> list[DecodedQR]:
    """Every QR code zxing-cpp finds in ``image``, sorted top to bottom, then left to right."""
    found: list[DecodedQR] = []
    for barcode in zxingcpp.read_barcodes(image, formats=_QR_ONLY):
        position = barcode.position
        corners = (
            position.top_left,
            position.top_right,
            position.bottom_right,
            position.bottom_left,
        )
        xs = [corner.x for corner in corners]
        ys = [corner.y for corner in corners]
        found.append(
            DecodedQR(text=barcode.text, left=min(xs), top=min(ys), right=max(xs), bottom=max(ys))
        )
    return _reading_order(found)


def _reading_order(codes: list[DecodedQR]) -> list[DecodedQR]:
    """Group codes into rows (overlapping vertically), rows top to bottom, each left to right."""
    rows: list[list[DecodedQR]] = []
    for code in sorted(codes, key=lambda qr: qr.top):
        if rows and code.top < rows[-1][0].center[1]:
            rows[-1].append(code)
        else:
            rows.append([code])
    return [code for row in rows for code in sorted(row, key=lambda qr: qr.left)]


def crop_around(image: Image.Image, box: tuple[int, int, int, int], margin_px: int) -> Image.Image:
    """Crop ``box`` (left, top, right, bottom) grown by ``margin_px``, clamped to the image."""
    left, top, right, bottom = box
    return image.crop(
        (
            max(left - margin_px, 0),
            max(top - margin_px, 0),
            min(right + margin_px, image.width),
            min(bottom + margin_px, image.height),
        )
    )
