"""Printing a batch of coupons to PDF, beside a baseline measured in the same run.

    python bench/print_coupons.py [--count 10000] [--keep DIR]

It makes `--count` coupon payloads (real signed QR texts: coupons.signing.encode_qr with a
throw-away key, real manual codes; no database), then measures, each in a fresh subprocess so
that the peak memory is that measurement's own:
- the baseline: the same QR texts encoded by the same encoder (coupons.qr) and each drawn as
  one reportlab path (canvas.beginPath, a rectangle per run of dark modules, drawPath) at its
  slot, 8 per Letter page, with reportlab's stock canvas; no text, no layout;
- the real thing: coupons.pdf.stream_coupons_pdf to a file, with a logo, every coupon's text,
  cut lines and crop marks;
- a floor, for information: each QR drawn exactly as pdf.py draws it (its operators written
  directly), on the stock canvas, and nothing else; real/floor is what the text, the layout
  and the streaming cost.
It prints seconds, ms per coupon, peak memory (ru_maxrss) and file size of each, and the ratios
real/baseline and real/floor. Targets on a 2-core machine for 10,000 coupons: at most 20 s and
300 MB, and real/baseline at most 1.5. Nothing is asserted: the figures are for people to
compare between commits on the same machine.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pickle
import re
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DARK_RUNS = re.compile(rb"\x00+")
CATEGORIES = ("Fruits et légumes", "Produits laitiers", "Viandes et œufs", "Pains et céréales")
VALUES = (Decimal("2.00"), Decimal("5.00"), Decimal("10.00"))


def make_coupons(count: int) -> list:
    """`count` printable coupons with real signed QR texts (a throw-away key)."""
    from coupons import codes, signing
    from coupons.pdf import PrintableCoupon

    keyring = signing.Keyring.from_seeds({1: os.urandom(32)}, active_kid=1)
    season_start = datetime.date(2026, 6, 1)
    coupons = []
    for number in range(1, count + 1):
        code = codes.generate_code()
        value = VALUES[number % len(VALUES)]
        # Sixteen weekly distributions, as in Portneuf: a handful of distinct validity windows.
        valid_from = season_start + datetime.timedelta(weeks=number % 16)
        valid_until = valid_from + datetime.timedelta(days=30)
        claims = signing.CouponClaims(
            code=code,
            program_id=7,
            value_cents=int(value * 100),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        coupons.append(
            PrintableCoupon(
                serial=f"PORT-{number:06d}",
                qr_text=signing.encode_qr(claims, keyring),
                manual_code=codes.format_code(code),
                value=value,
                currency="CAD",
                valid_from=valid_from,
                valid_until=valid_until,
                program_name="Programme de coupons nourriciers de la MRC de Portneuf",
                categories=CATEGORIES,
                holder=f"M-{number // 12:04d}" if number % 3 else None,
            )
        )
    return coupons


def make_logo() -> bytes:
    """A 600 x 600 PNG, the largest logo programmes.logos keeps."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 600), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 580, 580), fill=(40, 120, 60))
    draw.rectangle((200, 150, 400, 450), fill=(240, 200, 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- Measurements (each runs in its own process) ------------------------------------------------


def measure_baseline(coupons: list, path: Path) -> None:
    """Each QR as one path of reportlab's path API: a rectangle per run of dark modules."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    from coupons.pdf import COUPONS_PER_PAGE, coupon_slot_layout
    from coupons.qr import qr_rows

    zones = [coupon_slot_layout(slot).qr_zone for slot in range(COUPONS_PER_PAGE)]
    canvas = Canvas(str(path), pagesize=letter, pageCompression=1)
    for index, coupon in enumerate(coupons):
        zone = zones[index % COUPONS_PER_PAGE]
        rows = qr_rows(coupon.qr_text)
        size = len(rows)
        module = zone.width / (size + 8)
        canvas.saveState()
        canvas.translate(zone.x + 4 * module, zone.y + 4 * module)
        canvas.scale(module, module)
        qr_path = canvas.beginPath()
        for row_index, row in enumerate(rows):
            y = size - 1 - row_index
            for run in DARK_RUNS.finditer(row):
                start, end = run.span()
                qr_path.rect(start, y, end - start, 1)
        canvas.drawPath(qr_path, stroke=0, fill=1)
        canvas.restoreState()
        if index % COUPONS_PER_PAGE == COUPONS_PER_PAGE - 1:
            canvas.showPage()
    canvas.save()


def measure_floor(coupons: list, path: Path) -> None:
    """Each QR as pdf.py draws it (one path, operators written directly), and nothing else."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    from coupons.pdf import COUPONS_PER_PAGE, _qr_operators, coupon_slot_layout

    cells = [coupon_slot_layout(slot).cell for slot in range(COUPONS_PER_PAGE)]
    canvas = Canvas(str(path), pagesize=letter, pageCompression=1)
    for index, coupon in enumerate(coupons):
        cell = cells[index % COUPONS_PER_PAGE]
        canvas.addLiteral(f"q 1 0 0 1 {cell.x} {cell.y} cm\n{_qr_operators(coupon.qr_text)}\nQ")
        if index % COUPONS_PER_PAGE == COUPONS_PER_PAGE - 1:
            canvas.showPage()
    canvas.save()


def measure_real(coupons: list, path: Path) -> None:
    from coupons.pdf import stream_coupons_pdf

    logo = make_logo()
    with path.open("wb") as out:
        # A generator, as coupons.printing streams them from the database.
        stream_coupons_pdf(
            (coupon for coupon in coupons),
            out,
            title="Coupons du lot 42 · Programme de coupons nourriciers de la MRC de Portneuf",
            author="Bench",
            logo_png=logo,
            total=len(coupons),
        )


def child(kind: str, payloads: Path, output: Path) -> None:
    with payloads.open("rb") as source:
        coupons = pickle.load(source)  # written by this same script, just before
    if kind != "real":
        from reportlab import rl_config

        # reportlab's default ASCII85 layer is pure Python and would only slow the baseline.
        rl_config.useA85 = 0
    started = time.perf_counter()
    MEASURES[kind](coupons, output)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    size = output.stat().st_size
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "bytes": size}))


MEASURES = {"baseline": measure_baseline, "floor": measure_floor, "real": measure_real}


def run(kind: str, payloads: Path, output: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(payloads), str(output)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="Keep the two PDFs in this folder.")
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "PAYLOADS", "OUTPUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        kind, payloads, output = args.child
        child(kind, Path(payloads), Path(output))
        return

    from coupons.pdf import page_count

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        payloads = Path(scratch) / "coupons.pickle"
        coupons = make_coupons(args.count)
        with payloads.open("wb") as sink:
            pickle.dump(coupons, sink)
        text_length = len(coupons[0].qr_text)
        del coupons
        print(
            f"{args.count} coupons ({text_length}-character signed QR texts), "
            f"{page_count(args.count)} pages, {os.cpu_count()} CPU(s)"
        )
        figures = {}
        for kind, label in (
            ("baseline", "baseline (QR paths only)"),
            ("real", "real (coupons/pdf.py)"),
            ("floor", "floor (QR operators only)"),
        ):
            figure = figures[kind] = run(kind, payloads, folder / f"{kind}.pdf")
            print(
                f"{label:26} {figure['seconds']:7.2f} s  "
                f"{figure['seconds'] / args.count * 1000:6.3f} ms/coupon  "
                f"peak {figure['peak_mb']:6.1f} MB  file {figure['bytes'] / 1e6:6.1f} MB"
            )
        ratio = figures["real"]["seconds"] / figures["baseline"]["seconds"]
        print(f"ratio real/baseline: {ratio:.2f}  (targets: <= 20 s, <= 300 MB, ratio <= 1.5)")
        floor = figures["real"]["seconds"] / figures["floor"]["seconds"]
        print(f"ratio real/floor: {floor:.2f}  (what the text, layout and streaming cost)")


if __name__ == "__main__":
    main()
