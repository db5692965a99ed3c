"""Charts as inline SVG, drawn on the server from a report's table (no script, no web fonts).

``line`` draws one polyline per series over the table's rows (time buckets); ``bar`` draws one
horizontal bar per row with its series stacked. Every chart carries a <title> and the numbers
stay in the table below it, so screen readers and the CSV get the same figures.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from service.reporting.result import Chart, Table

# One palette for the whole dashboard: what a series means picks its colour, the queue's own CSS
# variable (approved green, rejected red, waiting amber: stet.css, light or dark), and a dash (lines)
# or hatching (bars) that tells them apart without colour, so equal lines drawn over each other
# still show in the legend.
MEANINGS = (  # (words in a series' name, colour, dashes); the first match wins
    (("not approved", "reject", "upheld"), "var(--reject, #b42318)", "7 4"),
    (("approve", "dismissed"), "var(--approve, #18794e)", ""),
    (("queue", "waiting", "open"), "var(--mid, #946200)", "2 3"),
    (("moderator",), "#6941c6", "10 3 2 3"),
    (("reported",), "#0e7490", "4 2"),
)
OTHERS = (("var(--accent, #1f5fd6)", ""), ("#0e7490", "4 2"), ("#6941c6", "10 3 2 3"), ("#5d6677", "1 3"))
WIDTH, LINE_HEIGHT, BAR = 720, 240, 22
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


def render(chart: Chart, table: Table) -> Markup:
    return (line if chart.kind == "line" else bar)(chart, table)


def _values(chart: Chart, table: Table) -> list[list[float]]:
    return [[float(v or 0) for v in table.column(name)] for name in chart.series]


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (1 when 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def style(name: str, index: int) -> tuple[str, str]:
    """A series' colour and dash pattern, from what its name says it counts."""
    lowered = name.lower()
    for words, colour, dashes in MEANINGS:
        if any(word in lowered for word in words):
            return colour, dashes
    return OTHERS[index % len(OTHERS)]


def _fill(chart: Chart, index: int) -> str:
    """A bar segment's fill attribute: the series' colour, hatched when it has a dash pattern."""
    colour, dashes = style(chart.series[index], index)
    return f'fill="url(#{chart.table}-{index})"' if dashes else f'style="fill:{colour}"'


def _patterns(chart: Chart) -> list[str]:
    parts = []
    for index, name in enumerate(chart.series):
        colour, dashes = style(name, index)
        if dashes:
            parts.append(
                f'<pattern id="{chart.table}-{index}" width="6" height="6" patternUnits="userSpaceOnUse" '
                'patternTransform="rotate(45)">'
                f'<rect width="6" height="6" style="fill:{colour}" opacity="0.55"/>'
                f'<rect width="3" height="6" style="fill:{colour}"/></pattern>'
            )
    return [f"<defs>{''.join(parts)}</defs>"] if parts else []


def _legend(chart: Chart, y: float, kind: str) -> list[str]:
    parts, x = [], LEFT
    for i, name in enumerate(chart.series):
        colour, dashes = style(name, i)
        if kind == "line":
            parts.append(
                f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" '
                f'style="stroke:{colour}" stroke-width="3"'
                + (f' stroke-dasharray="{dashes}"' if dashes else "")
                + "/>"
            )
            x += 8
        else:
            parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" {_fill(chart, i)}/>')
        parts.append(f'<text x="{x + 14}" y="{y}" class="legend">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts


def line(chart: Chart, table: Table) -> Markup:
    series = _values(chart, table)
    labels = table.column(chart.x)
    top = nice_max(max((v for s in series for v in s), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, LINE_HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    x_at = lambda i: LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)  # noqa: E731
    y_at = lambda v: TOP + plot_h * (1 - v / top)  # noqa: E731
    parts = []
    for tick in (0, top / 2, top):
        y = y_at(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_fmt(tick)}</text>'
        )
    step = max(1, n // 6)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x_at(i):.1f}" y="{LINE_HEIGHT - 8}" class="axis" text-anchor="middle">'
            f"{escape(str(labels[i]))}</text>"
        )
    for s, values in enumerate(series):
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        colour, dashes = style(chart.series[s], s)
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        # Earlier series are drawn wider, so a later one lying on top of it still shows its edges.
        width = 2 + 0.9 * (len(series) - 1 - s)
        line_style = f'style="stroke:{colour}" stroke-width="{width:g}"{dash}'
        parts.append(f'<polyline points="{points}" fill="none" {line_style}/>')
    height = LINE_HEIGHT + 22
    parts += _legend(chart, LINE_HEIGHT + 14, "line")
    return _svg(chart, height, parts)


def bar(chart: Chart, table: Table) -> Markup:
    series = _values(chart, table)
    labels = [str(label) for label in table.column(chart.x)]
    totals = [sum(values) for values in zip(*series, strict=True)] if series else []
    top = nice_max(max(totals, default=0))
    label_w = min(220, 12 + 7 * max((len(label) for label in labels), default=0))
    plot_w = WIDTH - label_w - RIGHT - 60
    parts = []
    for row, label in enumerate(labels):
        y = TOP + row * (BAR + 8)
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" class="axis" text-anchor="end">{escape(short)}</text>'
        )
        x = float(label_w)
        for s, values in enumerate(series):
            width = plot_w * values[row] / top
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" {_fill(chart, s)}/>')
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" class="value">{_fmt(totals[row])}</text>')
    height = TOP + len(labels) * (BAR + 8) + (26 if len(series) > 1 else 4)
    if len(series) > 1:
        parts += _legend(chart, height - 8, "bar")
    return _svg(chart, max(height, 40), _patterns(chart) + parts)


def _svg(chart: Chart, height: float, parts: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(chart.title)}</title>"
        "<style>.grid{stroke:var(--line,#dde1e8)}"
        ".axis,.legend,.value{font:11px system-ui,sans-serif;fill:var(--muted,#5d6677)}"
        ".value{fill:var(--ink,#1d2330)}</style>" + "".join(parts) + "</svg>"
    )
