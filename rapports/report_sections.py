"""A report laid out as titled tables, in one language: what the web page, the PDF, the CSV
and the XLSX all show, so that the four formats hold the same figures under the same labels.

Each cell keeps its raw value (a `Decimal` of dollars, an `int`, a share from 0 to 1, text) and
its display text in the report's language. A cell is either a value, not applicable (a count of
the funds: shown as "—", exported empty) or suppressed for a funder (shown as "< 5", exported
empty with its `suppressed` flag): a suppressed cell is never shown as 0.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from django.utils import translation
from django.utils.translation import gettext as _

from financement.models import Funder
from programmes.money import format_money
from rapports.report_types import Amount, Breakdown, FundingFigures, FundingReport, ImpactReport
from rapports.suppression import default_min_cell

LANGUAGES = ("fr", "en")


def babel_locale(language: str) -> str:
    return "en_CA" if language.startswith("en") else "fr_CA"


def in_report_language(language: str) -> translation.override:
    """Translations in the report's language ("en…" English, anything else French)."""
    return translation.override("en" if language.startswith("en") else "fr-ca")


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    MONEY = "money"
    SHARE = "share"  # 0 to 1, shown as a percentage
    SCORE = "score"  # a survey's mean score


class State(StrEnum):
    VALUE = "value"
    NOT_APPLICABLE = "n/a"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Cell:
    kind: Kind
    value: str | int | Decimal | None
    text: str
    state: State = State.VALUE

    @property
    def numeric(self) -> bool:
        return self.kind is not Kind.TEXT

    @property
    def suppressed(self) -> bool:
        return self.state is State.SUPPRESSED


@dataclass(frozen=True)
class Column:
    key: str
    title: str


@dataclass(frozen=True)
class Row:
    key: str
    cells: list[Cell]  # cells[0] is the row's label

    @property
    def label(self) -> str:
        return self.cells[0].text


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row]
    total: Row | None = None

    @property
    def has_suppressed(self) -> bool:
        rows = [*self.rows, *([self.total] if self.total else [])]
        return any(cell.suppressed for row in rows for cell in row.cells)


@dataclass(frozen=True)
class Layout:
    """A report in one language: its title lines and its sections, in reading order."""

    language: str
    title: str
    label: str
    scope_title: str
    as_of: str
    currency: str
    min_cell: int
    suppressed: bool  # the funder's copy: some cells are suppressed
    suppression_note: str
    sections: list[Section]

    def section(self, key: str) -> Section:
        return next(section for section in self.sections if section.key == key)


class _Cells:
    """Builds cells in one language. A missing value is suppressed when its key is among the
    report's suppressed keys (`hidden`: "households", "by_market:saint-casimir",
    "survey:fruits:before"…), else simply not applicable."""

    def __init__(
        self, *, language: str, currency: str, min_cell: int, hidden: Iterable[str] = ()
    ) -> None:
        self.locale = babel_locale(language)
        self.language = language
        self.currency = currency
        self.min_cell = min_cell
        self.hidden = frozenset(hidden)

    def _missing(self, kind: Kind, key: str | None) -> Cell:
        if key is not None and key in self.hidden:
            text = _("< {n}").format(n=self.min_cell)
            return Cell(kind, None, text, State.SUPPRESSED)
        return Cell(kind, None, "—", State.NOT_APPLICABLE)

    def text(self, value: str) -> Cell:
        return Cell(Kind.TEXT, value, value)

    def count(self, value: int | None, *, key: str | None = None) -> Cell:
        if value is None:
            return self._missing(Kind.COUNT, key)
        return Cell(Kind.COUNT, value, format_decimal(value, locale=self.locale))

    def money(self, value: Decimal | None, *, key: str | None = None) -> Cell:
        if value is None:
            return self._missing(Kind.MONEY, key)
        return Cell(Kind.MONEY, value, format_money(value, self.currency, self.language))

    def share(self, value: Decimal | None, *, key: str | None = None) -> Cell:
        if value is None:
            return self._missing(Kind.SHARE, key)
        pattern = "#,##0.0%" if self.language.startswith("en") else "#,##0.0\xa0%"
        return Cell(Kind.SHARE, value, format_percent(value, pattern, locale=self.locale))

    def score(self, value: Decimal | None, *, key: str | None = None) -> Cell:
        if value is None:
            return self._missing(Kind.SCORE, key)
        return Cell(Kind.SCORE, value, format_decimal(value, "#,##0.00", locale=self.locale))

    def amount(self, amount: Amount | None, *, key: str | None = None) -> list[Cell]:
        if amount is None:
            return [self.count(None, key=key), self.money(None, key=key)]
        return [self.count(amount.count, key=key), self.money(amount.value, key=key)]

    def blank(self) -> Cell:
        return Cell(Kind.TEXT, None, "", State.NOT_APPLICABLE)


def _funding_labels() -> list[tuple[str, str]]:
    return [
        ("contributions", _("Contributions des bailleurs de fonds")),
        ("donations", _("Dons en ligne")),
        ("sales", _("Ventes solidaires")),
        ("refunds", _("Remboursements aux donateurs et acheteurs")),
        ("funds", _("Fonds du programme")),
        ("issued", _("Coupons émis")),
        ("outstanding", _("En circulation (encore utilisables)")),
        ("redeemed", _("Échangés")),
        ("expired", _("Expirés sans être utilisés")),
        ("void", _("Annulés")),
        ("available", _("Fonds encore disponibles")),
        ("reimbursed", _("Remboursés aux marchand·es")),
        ("awaiting_reimbursement", _("En attente de remboursement")),
        ("conflicts_honoured", _("Scans en double honorés (pertes)")),
    ]


def funding_label(key: str) -> str:
    return dict(_funding_labels())[key]


def _count_value_columns(first: str) -> list[Column]:
    return [Column("label", first), Column("count", _("Nombre")), Column("value", _("Valeur"))]


def _funding_section(figures: FundingFigures, cells: _Cells) -> Section:
    rows = [
        Row(key, [cells.text(label), *cells.amount(getattr(figures, key))])
        for key, label in _funding_labels()
    ]
    return Section("funding", _("Financement"), _count_value_columns(_("Poste")), rows)


def _funder_kind(kind: str) -> str:
    try:
        return str(Funder.Kind(kind).label)
    except ValueError:
        return kind


def _funders_section(report: FundingReport, cells: _Cells) -> Section:
    rows = [
        Row(
            line.funder,
            [
                cells.text(line.funder),
                cells.text(_funder_kind(line.kind)),
                *cells.amount(line.contributions),
            ],
        )
        for line in report.by_funder
    ]
    columns = [
        Column("label", _("Bailleur de fonds")),
        Column("kind", _("Type")),
        Column("count", _("Contributions")),
        Column("value", _("Valeur")),
    ]
    return Section("by_funder", _("Contributions par bailleur de fonds"), columns, rows)


PROGRAM_FIGURES = (
    "funds",
    "issued",
    "redeemed",
    "outstanding",
    "expired",
    "reimbursed",
    "awaiting_reimbursement",
    "available",
)


def _programs_section(report: FundingReport, cells: _Cells) -> Section:
    columns = [Column("label", _("Programme")), Column("territory", _("Territoire"))]
    columns += [Column(key, funding_label(key)) for key in PROGRAM_FIGURES]

    def money_cells(figures: FundingFigures) -> list[Cell]:
        return [cells.money(getattr(figures, key).value) for key in PROGRAM_FIGURES]

    rows = [
        Row(
            line.slug,
            [cells.text(line.name), cells.text(line.territory), *money_cells(line.funding)],
        )
        for line in report.programs
    ]
    total = Row("", [cells.text(_("Total")), cells.blank(), *money_cells(report.totals)])
    return Section("programs", _("Programmes côte à côte"), columns, rows, total)


def _impact_section(report: ImpactReport, cells: _Cells) -> Section:
    def count_row(key: str, label: str, value: int | None) -> Row:
        return Row(key, [cells.text(label), cells.count(value, key=key), cells.blank()])

    rows = [
        count_row("households", _("Ménages joints"), report.households),
        count_row("people", _("Personnes jointes"), report.people),
        count_row(
            "households_with_children", _("Ménages avec enfants"), report.households_with_children
        ),
        Row(
            "share_used",
            [
                cells.text(_("Part des coupons utilisés")),
                cells.blank(),
                cells.share(report.share_used, key="share_used"),
            ],
        ),
        Row(
            "spent_local",
            [
                cells.text(_("Dépensé chez des producteurs locaux")),
                *cells.amount(report.spent_local, key="spent_local"),
            ],
        ),
        count_row("vendors", _("Marchand·es ayant reçu des coupons"), report.vendors),
        count_row("markets", _("Marchés ayant reçu des coupons"), report.markets),
        count_row(
            "repeat_households",
            _("Ménages revenus au moins 2 semaines"),
            report.repeat_households,
        ),
        count_row(
            "loyal_households", _("Ménages revenus au moins 4 semaines"), report.loyal_households
        ),
    ]
    return Section("impact", _("Impact"), _count_value_columns(_("Indicateur")), rows)


def _breakdown_section(
    key: str, title: str, first: str, breakdown: list[Breakdown], cells: _Cells
) -> Section:
    """Redemptions by market, week or category; with households when the report counts
    them."""

    def cell_key(line: Breakdown) -> str:
        return f"{key}:{line.key}"

    with_households = any(
        line.households is not None or cell_key(line) in cells.hidden for line in breakdown
    )
    columns = [Column("label", first)]
    if with_households:
        columns.append(Column("households", _("Ménages")))
    columns += [Column("count", _("Échanges")), Column("value", _("Valeur"))]
    rows = []
    for line in breakdown:
        row = [cells.text(line.label)]
        if with_households:
            row.append(cells.count(line.households, key=cell_key(line)))
        row += cells.amount(line.redemptions)  # money is never suppressed
        rows.append(Row(line.key, row))
    return Section(key, title, columns, rows)


def _household_size_section(report: ImpactReport, cells: _Cells) -> Section:
    columns = [Column("label", _("Taille du ménage")), Column("households", _("Ménages"))]
    rows = [
        Row(
            line.key,
            [
                cells.text(line.label),
                cells.count(line.households, key=f"by_household_size:{line.key}"),
            ],
        )
        for line in report.by_household_size
    ]
    return Section("by_household_size", _("Ménages par taille"), columns, rows)


def _survey_section(report: ImpactReport, cells: _Cells) -> Section:
    columns = [
        Column("label", _("Question")),
        Column("before_respondents", _("Répondants (début)")),
        Column("before_value", _("Résultat (début)")),
        Column("after_respondents", _("Répondants (fin)")),
        Column("after_value", _("Résultat (fin)")),
    ]
    rows = []
    for item in report.survey:
        before, after = f"survey:{item.key}:before", f"survey:{item.key}:after"
        # A share of households ("42,9 %") or a mean (servings a day, "2,40").
        value = cells.share if item.measure == "share" else cells.score
        rows.append(
            Row(
                item.key,
                [
                    cells.text(item.label),
                    cells.count(item.before_respondents, key=before),
                    value(item.before_value, key=before),
                    cells.count(item.after_respondents, key=after),
                    value(item.after_value, key=after),
                ],
            )
        )
    return Section("survey", _("Sondage d'évaluation (début et fin de saison)"), columns, rows)


def scope_title(scope: str) -> str:
    return {
        "program": _("Programme"),
        "territory": _("Territoire"),
        "network": _("Réseau"),
    }.get(scope, scope)


def layout(
    funding: FundingReport,
    impact: ImpactReport,
    *,
    language: str,
    min_cell: int | None = None,
) -> Layout:
    """The report in `language` ("fr" or "en"), as the sections every format shows."""
    min_cell = default_min_cell() if min_cell is None else min_cell
    with in_report_language(language):
        cells = _Cells(
            language=language,
            currency=funding.currency,
            min_cell=min_cell,
            hidden=impact.suppressed,
        )
        sections = [_funding_section(funding.totals, cells)]
        if funding.by_funder:
            sections.append(_funders_section(funding, cells))
        if funding.scope != "program":
            sections.append(_programs_section(funding, cells))
        sections.append(_impact_section(impact, cells))
        sections.append(_household_size_section(impact, cells))
        sections.append(
            _breakdown_section(
                "by_market", _("Échanges par marché"), _("Marché"), impact.by_market, cells
            )
        )
        sections.append(
            _breakdown_section(
                "by_week", _("Échanges par semaine"), _("Semaine"), impact.by_week, cells
            )
        )
        sections.append(
            _breakdown_section(
                "by_category",
                _("Échanges par catégorie de produits"),
                _("Catégorie"),
                impact.by_category,
                cells,
            )
        )
        if impact.survey:
            sections.append(_survey_section(impact, cells))
        return Layout(
            language=language,
            title=_("Rapport de financement et d'impact"),
            label=funding.label,
            scope_title=scope_title(funding.scope),
            as_of=_("Au {date}").format(date=_long_date(funding.today, language)),
            currency=funding.currency,
            min_cell=min_cell,
            suppressed=bool(impact.suppressed),
            suppression_note=_(
                "« < {n} » : moins de {n} ménages. Ce chiffre est masqué pour protéger la vie "
                "privée des ménages, et d'autres le sont aussi pour qu'on ne puisse pas le "
                "retrouver par soustraction."
            ).format(n=min_cell),
            sections=sections,
        )


def _long_date(day: datetime.date, language: str) -> str:
    return format_date(day, "long", locale=babel_locale(language))
