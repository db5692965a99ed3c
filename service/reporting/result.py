"""What a report produces: headline figures, tables, and charts drawn from those tables.

The dashboard renders each table under its chart, the CSV export writes the same rows, and the
API returns them as JSON, so a number never differs between the three.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | None


@dataclass
class Table:
    name: str  # a slug: the CSV's file name and the JSON key
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    links: dict[str, str] = field(default_factory=dict)  # column shown as a link -> column with its URL
    percent: tuple[str, ...] = ()  # columns holding shares (0..1), shown as percentages

    def column(self, name: str) -> list[Cell]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Chart:
    """A chart of some of a table's columns: ``line`` over time or horizontal ``bar``s."""

    title: str
    kind: str  # "line" | "bar"
    table: str
    x: str  # the column with the labels
    series: list[str]  # the columns drawn


@dataclass
class EditorReport:
    """One of the editors' reports, ready for any face: figures, tables, charts and notes."""

    name: str
    title: str
    figures: dict[str, Cell] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return next(table for table in self.tables if table.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "title": self.title,
            "figures": self.figures,
            "tables": {table.name: table.as_json() for table in self.tables},
        }


def nearest_rank(counts: Mapping[int, int], p: float) -> int | None:
    """The ``p`` percentile (nearest rank) of values given as ``{value: how many}``; None if empty."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(p * total)), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return None


def share(part: float, whole: float) -> float | None:
    """``part / whole`` rounded to 4 places, or None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None
