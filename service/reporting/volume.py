"""Volume over time: comments received, what the model did with them, what people did."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.models import Status
from service.reporting import rollup
from service.reporting.result import Chart, Report, Table
from service.reporting.scope import Scope

SERIES = {
    "Received": None,
    "Auto-approved": ("auto", Status.APPROVED),
    "Auto-rejected": ("auto", Status.REJECTED),
    "Queued": ("auto", Status.QUEUED),
    "Decided by moderators": ("moderator", None),
    "Reported by readers": None,
}


def build(session: Session, scope: Scope) -> Report:
    period = scope.period
    series: dict[str, list[tuple[int, int]]] = {name: [] for name in SERIES}
    for at, measure, key, count in rollup.counts(
        session, scope, ("received", "decision", "reported"), period.start, period.end
    ):
        if measure != "decision":
            series["Received" if measure == "received" else "Reported by readers"].append((at, count))
            continue
        by, status = key.split(":")
        for name, rule in SERIES.items():
            if rule is not None and rule[0] == by and rule[1] in (None, status):
                series[name].append((at, count))
    columns = {name: period.series(series[name]) for name in SERIES}
    labels = [label for _key, label in period.buckets()]
    rows = [[label, *(int(columns[name][i]) for name in SERIES)] for i, label in enumerate(labels)]
    table = Table("volume", f"Comments per {period.bucket}", ["Bucket", *SERIES], rows)
    return Report(
        "volume",
        "Volume",
        figures={name: int(sum(values)) for name, values in columns.items()},
        tables=[table],
        charts=[Chart(f"Comments per {period.bucket}", "line", "volume", "Bucket", list(SERIES))],
    )
