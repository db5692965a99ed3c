"""Counts per time slot for the editor reports, rolled up once and read many times.

Event measures are keyed by when an event happened (a comment arrived, a decision was made, a
reader reported), never by a comment's current state, so a slot's counts are final once the slot
is over: a moderator deciding an old comment today is counted today. ``counts`` reads the site's
``ReportRollup`` rows for finished slots (filling the missing ones first, in one grouped query per
table) and computes the rest, up to now, from the base tables with the same queries. Every row
is kept twice: for the whole site (section ``""``) and for the article's section at the time, so
a section filter reads rolled-up rows too; an article filter is computed live (a few rows).
Slots are UTC hours, or quarter-hours for a zone whose offset is not a whole number of hours, so
the site's local hours and days are always whole slots. Measures that reports only sum over a
whole period (``DAILY``) are kept per local day of the site instead: far fewer rows to read.

Measures: ``received``; ``decision`` keyed ``by:status``; ``queue`` (comments entering the queue
minus those leaving it); ``reported``; ``wait`` keyed by whole minutes from a comment's arrival to
a moderator's decision out of the queue (so percentiles are exact to the minute, rounded down);
and per day ``moderator``, ``handling``, ``agreement`` and ``identity`` (see their functions).

Late measures (``LATE``) change after their slot, so a fill adds *moves*: each comment touched by
what was written in its window counts -1 with its standing before the window and +1 with its
standing after it, added (an upsert) to whatever slot it belongs to. ``score`` keyed
``label:bucket`` counts comments, by arrival, by their highest score per label in 0.01-wide
buckets (bucket k holds scores s with k/100 <= s < (k+1)/100, compared as the database compares
floats, so a threshold that is a multiple of 0.01 is counted exactly); ``reason`` counts comments,
by arrival, per reason code; ``simulation`` counts the model's decisions, by when they were made,
per toxicity bucket and the comment's status now (for the threshold simulator). A backlog scored
late, a ``stet rescore`` months on, or a moderator deciding an old comment is counted without
recomputing any slot. ``forget`` takes comments about to be deleted back out.

Events stamped before ``until`` but committed after a fill (an import of old history) are not
in the rollup: ``invalidate`` drops a site's rows, to be rolled up again (``stet report rollup
--rebuild``). The worker keeps every site filled (``worker.tasks.fill_report_rollups``, on beat),
so a page only ever computes the last hour live.
"""

from service.reporting.rollup import slots
from service.reporting.rollup.events import LEAN_REJECT, agreement, compute
from service.reporting.rollup.filling import FILL_STEP, GRACE, fill, fill_site, forget, invalidate
from service.reporting.rollup.moves import late
from service.reporting.rollup.read import counts
from service.reporting.rollup.slots import (
    DAILY,
    HELD,
    LATE,
    SESSION_GAP,
    VERDICTS,
    Cell,
    Row,
    bucket_of,
    slot_seconds,
)

__all__ = [
    "DAILY",
    "FILL_STEP",
    "GRACE",
    "HELD",
    "LATE",
    "LEAN_REJECT",
    "SESSION_GAP",
    "VERDICTS",
    "Cell",
    "Row",
    "agreement",
    "bucket_of",
    "compute",
    "counts",
    "fill",
    "fill_site",
    "forget",
    "invalidate",
    "late",
    "slot_seconds",
    "slots",
]
