"""The PDF receipt of an online donation, bilingual (French, then English, on the same page).

An official receipt for income tax purposes only when the program gives them (its fund holder's
charity registration number, address and signatory: Program.gives_official_receipts) and the
donor gave their address; otherwise an acknowledgement that says it is not one. An official
receipt carries what the Income Tax Regulations (s. 3501) ask: the statement that it is one,
the charity's name, address and registration number, the serial number, the place of issue, the
dates received and issued, the donor's name and address, the amount, the value of any
advantage (none for a gift through this page), the eligible amount, the signatory, and the
Canada Revenue Agency's name and website.

The text is fixed in both languages on purpose: the same document serves either reader,
whatever the language of the page it was downloaded from.

Only the PDF base-14 fonts are used (WinAnsi): French is covered; any other character is
approximated (accents dropped, then "?") so that nothing shows as a black box.
"""

from __future__ import annotations

import datetime
import io
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import format_date
from django.utils import timezone
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from financement.donations import issuer_of
from financement.models import Donation
from programmes.money import format_money

OFFICIAL_TITLE = (
    "Reçu officiel aux fins de l'impôt sur le revenu / Official receipt for income tax purposes"
)
ACKNOWLEDGEMENT_TITLE = (
    "Accusé de réception — ce n'est pas un reçu officiel aux fins de l'impôt / "
    "Acknowledgement — not an official tax receipt"
)
CRA_LINE = (
    "Agence du revenu du Canada / Canada Revenue Agency : "
    "canada.ca/organismes-bienfaisance-dons · canada.ca/charities-giving"
)


@dataclass(frozen=True)
class Receipt:
    number: str
    program_name: str
    fund_holder: str
    charity_number: str
    donor_name: str
    dedication: str
    amount: Decimal
    refunded: Decimal
    currency: str
    received_on: datetime.date
    issued_on: datetime.date
    official: bool = False
    fund_holder_address: str = ""
    signatory: str = ""
    place_of_issue: str = ""
    donor_address: str = ""

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.refunded


def receipt_for(donation: Donation) -> Receipt:
    program = donation.program
    issuer = issuer_of(donation)  # as it was when the gift was received
    address = str(issuer.get("address") or "")
    received = timezone.localdate(donation.paid_at) if donation.paid_at else timezone.localdate()
    return Receipt(
        number=donation.receipt_number,
        program_name=program.name,
        fund_holder=str(issuer.get("fund_holder") or program.name),
        charity_number=str(issuer.get("charity_number") or ""),
        donor_name=donation.donor_name,
        dedication=donation.dedication,
        amount=donation.amount,
        refunded=donation.refunded_amount,
        currency=program.currency,
        received_on=received,
        issued_on=received,
        official=bool(issuer.get("official")),
        fund_holder_address=address,
        signatory=str(issuer.get("signatory") or ""),
        # The locality of the charity's address (its last line), where the receipt is issued.
        place_of_issue=(address.strip().splitlines() or [""])[-1],
        donor_address=donation.donor_address,
    )


# Letters that Unicode does not decompose into a plain letter and an accent.
_NO_DECOMPOSITION = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")


def _winansi(text: str) -> str:
    text = text.replace("\u202f", " ").replace("\u00a0", " ").translate(_NO_DECOMPOSITION)
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(plain or "?")
    return "".join(out)


def _money(value: Decimal, currency: str) -> str:
    return (
        f"{format_money(value, currency, language='fr')} / "
        f"{format_money(value, currency, language='en')}"
    )


def _date(value: datetime.date) -> str:
    return (
        f"{format_date(value, format='long', locale='fr_CA')} / "
        f"{format_date(value, format='long', locale='en_CA')}"
    )


def _rows(receipt: Receipt) -> list[tuple[str, str]]:
    rows = [("Numéro du reçu / Receipt number", receipt.number)]
    rows.append(("Organisme / Organization", receipt.fund_holder))
    if receipt.official:
        rows += [
            ("Adresse / Address", _one_line(receipt.fund_holder_address)),
            (
                "Numéro d'enregistrement d'organisme de bienfaisance / Charity registration number",
                receipt.charity_number,
            ),
            ("Lieu d'émission / Place of issue", receipt.place_of_issue),
        ]
    rows += [
        ("Programme / Program", receipt.program_name),
        ("Donateur ou donatrice / Donor", receipt.donor_name),
    ]
    if receipt.official:
        rows.append(
            (
                "Adresse du donateur ou de la donatrice / Donor's address",
                _one_line(receipt.donor_address),
            )
        )
    rows += [
        ("Date du don / Date the gift was received", _date(receipt.received_on)),
        ("Date d'émission / Date issued", _date(receipt.issued_on)),
        ("Montant du don / Amount of the gift", _money(receipt.amount, receipt.currency)),
    ]
    # A partly refunded gift: what was given back, then what the donor really gave (the only
    # amount an official receipt may count). A fully refunded gift has no receipt at all.
    if receipt.refunded:
        rows.append(
            ("Montant remboursé / Amount refunded", _money(receipt.refunded, receipt.currency))
        )
    if receipt.official:
        rows += [
            (
                "Valeur de l'avantage / Value of the advantage",
                _money(Decimal("0.00"), receipt.currency),
            ),
            (
                "Montant admissible du don aux fins de l'impôt / "
                "Eligible amount of the gift for tax purposes",
                _money(receipt.net_amount, receipt.currency),
            ),
        ]
    elif receipt.refunded:
        rows.append(
            (
                "Montant net du don / Net amount of the gift",
                _money(receipt.net_amount, receipt.currency),
            )
        )
    if receipt.dedication:
        rows.append(("Dédicace / Dedication", receipt.dedication))
    if receipt.official:
        rows.append(("Signature autorisée / Authorized signature", receipt.signatory))
    return rows


def _one_line(address: str) -> str:
    return ", ".join(line.strip() for line in address.splitlines() if line.strip())


def render_receipt_pdf(receipt: Receipt) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, pageCompression=1)
    canvas.setTitle(_winansi(f"{receipt.number} · {receipt.program_name}"))
    canvas.setAuthor(_winansi(receipt.fund_holder))
    width, height = letter
    margin = 0.9 * inch
    text_width = width - 2 * margin
    y = height - margin

    def lines(text: str, font: str, size: float, gap: float = 1.3) -> None:
        nonlocal y
        canvas.setFont(font, size)
        for line in simpleSplit(_winansi(text), font, size, text_width) or [""]:
            canvas.drawString(margin, y, line)
            y -= size * gap

    lines(receipt.fund_holder, "Helvetica-Bold", 15)
    y -= 4
    lines(OFFICIAL_TITLE if receipt.official else ACKNOWLEDGEMENT_TITLE, "Helvetica-Bold", 12)
    y -= 10
    canvas.setLineWidth(0.6)
    canvas.line(margin, y + 8, width - margin, y + 8)
    y -= 6
    for label, value in _rows(receipt):
        lines(label, "Helvetica", 9)
        lines(value, "Helvetica-Bold", 11)
        y -= 6
    y -= 8
    if receipt.official:
        lines(CRA_LINE, "Helvetica", 9)
    else:
        lines(
            "Ce document confirme la réception de votre don. Il ne peut pas servir de reçu "
            "officiel aux fins de l'impôt. / This document confirms that your gift was received. "
            "It cannot be used as an official receipt for income tax purposes.",
            "Helvetica",
            9,
        )
    y -= 6
    lines(
        "Merci de soutenir l'accès à des aliments locaux. / "
        "Thank you for supporting access to local food.",
        "Helvetica-Oblique",
        9,
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
