"""Scoring on the request path (Perspective's endpoint) is the API's one expensive call: a flood of
span requests on long texts from one site used to take every core and push other sites' comments
to seconds. The gate bounds it: at most ``STET_SCORING_CONCURRENCY`` requests score at once (one
by default, leaving the other cores to everyone else's requests; across all of ``stet api``'s
processes when the server hands them one shared semaphore), each site at most one at a time per
process, and a request that cannot start within ``WAIT`` seconds is refused at once (429) so no
thread piles up behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

# How long a request waits for the scorer before it is refused.
WAIT = 2.0


class Busy(Exception):
    """The scorer is taken: by this site's previous request (``site=True``) or by other sites."""

    def __init__(self, site: bool):
        super().__init__("site" if site else "scorer")
        self.site = site


class Slots(Protocol):
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...


class ScoringGate:
    def __init__(self, concurrency: int = 1, wait: float = WAIT, slots: Slots | None = None):
        """``slots``: a semaphore shared with other processes (``multiprocessing``), else one of this
        process's own with ``concurrency`` slots."""
        self._slots: Slots = slots or threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._sites: set[int] = set()
        self.wait = wait

    @contextmanager
    def turn(self, site_id: int) -> Iterator[None]:
        """Hold one of the scorer's slots for ``site_id``; ``Busy`` when none comes in time."""
        with self._lock:
            if site_id in self._sites:
                raise Busy(site=True)
            self._sites.add(site_id)
        try:
            if not self._slots.acquire(timeout=self.wait):
                raise Busy(site=False)
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._sites.discard(site_id)
