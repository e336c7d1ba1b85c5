"""A program's funds as its funds page shows them: received (the ledger, by kind), committed and
spent (its coupons), available.

The coupons live in a higher app: it registers, at start-up, the function that reports what a
program's coupons hold (`register_coupon_figures`), so that this layer never imports it.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from financement.models import Contribution, Funder, LedgerEntry
from financement.selectors import program_ledger
from programmes.models import Program
from programmes.money import ZERO, quantize


@dataclass(frozen=True)
class CouponFigures:
    """What a program's coupons hold on a given day (values in dollars)."""

    outstanding: Decimal  # issued and still spendable: committed
    outstanding_count: int
    redeemed: Decimal  # spent at the markets
    redeemed_count: int
    expired: Decimal  # expired unused: that money is free again
    expired_count: int
    # The public sale: the subsidy of the paid sales, and of those still being paid for.
    sale_subsidy_used: Decimal = ZERO
    sale_subsidy_reserved: Decimal = ZERO

    @property
    def committed_value(self) -> Decimal:
        """What the budget guard counts against the funds: redeemed plus outstanding."""
        return quantize(self.outstanding + self.redeemed)


CouponFiguresProvider = Callable[[Program, datetime.date], CouponFigures]
_provider: CouponFiguresProvider | None = None


def register_coupon_figures(provider: CouponFiguresProvider) -> None:
    global _provider
    _provider = provider


def coupon_figures(program: Program, today: datetime.date) -> CouponFigures:
    if _provider is None:
        raise ImproperlyConfigured(
            "No coupon figures provider: the coupons app registers one in its AppConfig.ready() "
            "with financement.funds.register_coupon_figures."
        )
    return _provider(program, today)


@dataclass(frozen=True)
class FundsSummary:
    contributions: Decimal
    donations: Decimal
    sales: Decimal
    refunds: Decimal  # negative (or zero): money given back
    coupons: CouponFigures
    sale_enabled: bool
    sale_subsidy_cap: Decimal

    @property
    def received(self) -> Decimal:
        return quantize(self.contributions + self.donations + self.sales + self.refunds)

    @property
    def committed(self) -> Decimal:
        return self.coupons.outstanding

    @property
    def spent(self) -> Decimal:
        return self.coupons.redeemed

    @property
    def available(self) -> Decimal:
        """Received minus what the coupons hold (committed and spent) and the subsidy held by
        sales being paid, as the budget guard of issuance counts it; below zero when the
        coupons issued exceed the funds (after a refund, for instance)."""
        return quantize(
            self.received - self.coupons.committed_value - self.coupons.sale_subsidy_reserved
        )

    @property
    def shortfall(self) -> Decimal:
        return -self.available if self.available < 0 else ZERO

    @property
    def shows_sale(self) -> bool:
        """The sale's subsidy is shown while the sale is on, and after, once it has sold."""
        return self.sale_enabled or bool(
            self.coupons.sale_subsidy_used or self.coupons.sale_subsidy_reserved
        )

    @property
    def sale_subsidy_left(self) -> Decimal:
        left = self.sale_subsidy_cap - self.coupons.sale_subsidy_used
        return quantize(max(left - self.coupons.sale_subsidy_reserved, ZERO))


def funds_summary(program: Program, today: datetime.date | None = None) -> FundsSummary:
    """The funds page's figures: one query for the ledger, the coupons app's for the coupons."""
    today = today or timezone.localdate()
    parts = dict.fromkeys(LedgerEntry.Kind.values, ZERO)
    rows = (
        LedgerEntry.objects.filter(program=program)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        parts[row["kind"]] = quantize(row["total"] or ZERO)
    return FundsSummary(
        contributions=parts[LedgerEntry.Kind.CONTRIBUTION],
        donations=parts[LedgerEntry.Kind.DONATION],
        sales=parts[LedgerEntry.Kind.SALE],
        refunds=parts[LedgerEntry.Kind.REFUND],
        coupons=coupon_figures(program, today),
        sale_enabled=program.sale_enabled,
        sale_subsidy_cap=quantize(program.sale_subsidy_cap or ZERO),
    )


def ledger_rows(program: Program) -> QuerySet[LedgerEntry]:
    """The program's ledger, newest first, with what a row shows (one query for a page): the
    funder, the donation, who recorded it and the id of the contribution's document, if any
    (never the document itself)."""
    return (
        program_ledger(program)
        .annotate(document_id=F("contribution__document__pk"))
        .order_by("-at", "-pk")
    )


@dataclass(frozen=True)
class FundedProgram:
    name: str
    slug: str
    currency: str
    total: Decimal
    contributions: int


@dataclass
class FunderRow:
    funder: Funder
    # The user's programs it funds, by name.
    programs: list[FundedProgram] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return quantize(sum((program.total for program in self.programs), ZERO))


def funder_rows(funders: Sequence[Funder], programs: QuerySet[Program]) -> list[FunderRow]:
    """Each funder with what it gave to `programs` (the user's scope), in one query."""
    rows = {funder.pk: FunderRow(funder) for funder in funders}
    sums = (
        Contribution.objects.filter(funder_id__in=list(rows), program__in=programs)
        .values("funder_id", "program__name", "program__slug", "program__currency")
        .annotate(total=Sum("amount"), count=Count("pk"))
        .order_by("program__name", "program__slug")
    )
    for row in sums:
        rows[row["funder_id"]].programs.append(
            FundedProgram(
                name=row["program__name"],
                slug=row["program__slug"],
                currency=row["program__currency"],
                total=quantize(row["total"] or ZERO),
                contributions=row["count"],
            )
        )
    return [rows[funder.pk] for funder in funders]


# The ledger as a spreadsheet ---------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Line:
    """A file-like object that hands back what the csv writer writes, line by line."""

    def write(self, line: str) -> str:
        return line


def ledger_csv_lines(program: Program) -> Iterator[str]:
    """The program's ledger as CSV lines, newest first, read in chunks (memory does not grow with
    the ledger). UTF-8 with a byte order mark so that a spreadsheet reads the accents; dates in
    ISO 8601 (in the site's time zone), amounts with a dot and two decimals (a refund is
    negative); a text cell a spreadsheet would run as a formula starts with an apostrophe."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(
        [
            _("Date"),
            _("Type"),
            _("Provenance"),
            _("Référence"),
            _("Note"),
            _("Montant ({currency})").format(currency=program.currency),
            _("Enregistré par"),
        ]
    )
    for entry in ledger_rows(program).iterator(chunk_size=500):
        contribution = entry.contribution
        yield writer.writerow(
            [
                timezone.localtime(entry.at).isoformat(timespec="seconds"),
                _cell(entry.get_kind_display()),
                _cell(contribution.funder.name if contribution else ""),
                _cell(contribution.reference if contribution else entry.stripe_reference),
                _cell(entry.memo),
                f"{quantize(entry.amount):.2f}",
                _cell(entry.recorded_by.email if entry.recorded_by else ""),
            ]
        )
