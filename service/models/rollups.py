"""The editor reports' pre-counted slots (``service.reporting.rollup``) and how far they reach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime


class ReportRollup(Base):
    """Editor-report counts for one site (or one of its sections) and one time slot, kept by
    ``service.reporting.rollup``.

    ``slot`` is the slot's start in quarter-hours since 1970; ``measure``/``key`` name what was counted
    (``decision``/``auto:approved``, ``wait``/minutes waited, ``score``/``toxicity:97``, ...).
    """

    __tablename__ = "report_rollups"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    measure: Mapped[str] = mapped_column(String(20), primary_key=True)
    # "" for the whole site, else an article section's counts (sections filter reports).
    section: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ReportRollupState(Base):
    """How far a site's ``ReportRollup`` rows reach (events before ``until``), their slot length
    and the zone whose local days the per-day measures were summed in."""

    __tablename__ = "report_rollup_state"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    seconds: Mapped[int] = mapped_column()
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64))
