"""The report's charts: their data, taken from the report's sections (same figures, same
labels, same language), and their server-rendered SVG for the web pages. The PDF draws the same
`Chart`s with reportlab (`rapports.report_pdf`).

The SVG carries no script and no `style` attribute (the Content-Security-Policy forbids them):
colours are presentation attributes (`fill=`) that `static/css/reports.css` may override through
the classes. Each chart is `role="img"` with a `<title>` and a `<desc>`, and the page shows the
data table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from rapports.report_sections import Layout, Section, State, in_report_language

WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 110
ROW_HEIGHT = 26
BAR_HEIGHT = 16
PAD = 8
BAR_FILL = "#1f5f3a"
SEGMENT_FILLS = {"outstanding": "#d08c00", "redeemed": "#1f5f3a", "available": "#8fb9a0"}
EMPTY_FILL = "#e6eae4"
MAX_LABEL = 28


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: Decimal | None  # None: suppressed (no bar, its text says "< 5")
    text: str


@dataclass(frozen=True)
class Chart:
    key: str
    kind: str  # "bars" or "stacked"
    title: str
    description: str
    bars: list[Bar]
    section: str  # the key of the section holding its data table
    total: Bar | None = None  # the stacked bar's whole (the funds)

    @property
    def scale(self) -> Decimal:
        values = [bar.value for bar in self.bars if bar.value is not None and bar.value > 0]
        if self.kind == "stacked":
            whole = sum(values, Decimal(0))
            if self.total is not None and self.total.value is not None:
                whole = max(whole, self.total.value)
            return whole
        return max(values, default=Decimal(0))

    def share(self, bar: Bar) -> float:
        """The bar's length as a fraction of the chart's (0 to 1)."""
        scale = self.scale
        if bar.value is None or bar.value <= 0 or scale <= 0:
            return 0.0
        return float(bar.value / scale)


def _bars(section: Section, column: str) -> list[Bar]:
    index = [c.key for c in section.columns].index(column)
    bars = []
    for row in section.rows:
        cell = row.cells[index]
        value = (
            Decimal(cell.value) if cell.state is State.VALUE and cell.value is not None else None
        )
        bars.append(Bar(row.key, row.label, value, cell.text))
    return bars


def _funds_chart(layout: Layout) -> Chart:
    funding = layout.section("funding")
    cells = {row.key: row.cells[2] for row in funding.rows}

    def bar(key: str, label: str) -> Bar:
        cell = cells[key]
        value = Decimal(cell.value) if cell.value is not None else Decimal(0)
        return Bar(key, label, max(value, Decimal(0)), cell.text)

    return Chart(
        key="funds",
        kind="stacked",
        title=_("Où vont les fonds"),
        description=_(
            "Les fonds du programme ({funds}) partagés entre les coupons en circulation, "
            "les coupons échangés et les fonds encore disponibles."
        ).format(funds=cells["funds"].text),
        bars=[
            bar("outstanding", _("Engagés (coupons en circulation)")),
            bar("redeemed", _("Dépensés (coupons échangés)")),
            bar("available", _("Disponibles")),
        ],
        section="funding",
        total=bar("funds", _("Fonds du programme")),
    )


def report_charts(layout: Layout) -> list[Chart]:
    """The funds' stacked bar, then bars by market, week, category and household size, in the
    layout's language."""
    with in_report_language(layout.language):
        return _report_charts(layout)


def _report_charts(layout: Layout) -> list[Chart]:
    charts = [_funds_chart(layout)]
    specs = [
        ("by_market", "value", _("Valeur échangée par marché")),
        ("by_week", "value", _("Valeur échangée par semaine")),
        ("by_category", "value", _("Valeur échangée par catégorie de produits")),
        ("by_household_size", "households", _("Ménages par taille")),
    ]
    for key, column, title in specs:
        section = layout.section(key)
        if not section.rows:
            continue
        charts.append(
            Chart(
                key=key,
                kind="bars",
                title=title,
                description=_("{title} : le tableau qui suit donne les mêmes chiffres.").format(
                    title=section.title
                ),
                bars=_bars(section, column),
                section=key,
            )
        )
    return charts


# SVG ---------------------------------------------------------------------------------------


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _svg_open(chart: Chart, height: int) -> str:
    ident = f"chart-{chart.key}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart--{chart.kind}" '
        f'id="{ident}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet">'
        f'<title id="{ident}-title">{escape(chart.title)}</title>'
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>'
    )


def _bars_svg(chart: Chart) -> str:
    height = PAD * 2 + ROW_HEIGHT * len(chart.bars)
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = [_svg_open(chart, height)]
    for i, bar in enumerate(chart.bars):
        y = PAD + i * ROW_HEIGHT
        length = round(area * chart.share(bar), 1)
        text_y = y + BAR_HEIGHT - 3
        css = "chart__bar chart__bar--suppressed" if bar.value is None else "chart__bar"
        parts.append(
            f'<g class="chart__row" data-key="{escape(bar.key)}">'
            f"<title>{escape(bar.label)} : {escape(bar.text)}</title>"
            f'<text class="chart__label" x="{LABEL_WIDTH - 6}" y="{text_y}" '
            f'text-anchor="end" font-size="13" fill="#1b1f23">{escape(_short(bar.label))}</text>'
            f'<rect class="chart__track" x="{LABEL_WIDTH}" y="{y}" width="{area}" '
            f'height="{BAR_HEIGHT}" fill="{EMPTY_FILL}"/>'
            f'<rect class="{css}" x="{LABEL_WIDTH}" y="{y}" width="{length}" '
            f'height="{BAR_HEIGHT}" fill="{BAR_FILL}"/>'
            f'<text class="chart__value" x="{LABEL_WIDTH + area + 6}" y="{text_y}" '
            f'font-size="13" fill="#1b1f23">{escape(bar.text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _stacked_svg(chart: Chart) -> str:
    bar_y, bar_h = PAD, 28
    legend_y = bar_y + bar_h + 20
    height = legend_y + ROW_HEIGHT * (len(chart.bars) + 1)
    area = WIDTH - 2 * PAD
    parts = [_svg_open(chart, height)]
    parts.append(
        f'<rect class="chart__track" x="{PAD}" y="{bar_y}" width="{area}" height="{bar_h}" '
        f'fill="{EMPTY_FILL}"/>'
    )
    x = float(PAD)
    for bar in chart.bars:
        length = round(area * chart.share(bar), 1)
        fill = SEGMENT_FILLS.get(bar.key, BAR_FILL)
        parts.append(
            f'<rect class="chart__segment chart__segment--{escape(bar.key)}" x="{round(x, 1)}" '
            f'y="{bar_y}" width="{length}" height="{bar_h}" fill="{fill}">'
            f"<title>{escape(bar.label)} : {escape(bar.text)}</title></rect>"
        )
        x += length
    legend = [*chart.bars, *([chart.total] if chart.total else [])]
    for i, bar in enumerate(legend):
        y = legend_y + i * ROW_HEIGHT
        fill = SEGMENT_FILLS.get(bar.key, "none")
        parts.append(
            f'<g class="chart__legend" data-key="{escape(bar.key)}">'
            f'<rect x="{PAD}" y="{y}" width="14" height="14" fill="{fill}" '
            f'stroke="#1b1f23" stroke-width="0.5"/>'
            f'<text x="{PAD + 22}" y="{y + 12}" font-size="13" fill="#1b1f23">'
            f"{escape(bar.label)} : {escape(bar.text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def chart_svg(chart: Chart) -> SafeString:
    """The chart as inline SVG markup; every text in it is escaped."""
    markup = _stacked_svg(chart) if chart.kind == "stacked" else _bars_svg(chart)
    return mark_safe(markup)  # built above from escaped text only
