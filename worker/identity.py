"""Identity-term bias, measured and trained against with the list in ``service.identity``.

Training re-weights non-toxic comments that mention a group (``training.py``), and ``stet model
eval`` compares how often non-toxic comments with and without a mention are flagged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.identity import IDENTITY_TERMS, MENTION, mentions

__all__ = ["IDENTITY_TERMS", "flag_rates", "mentions_identity", "terms_in"]


def mentions_identity(texts: Sequence[str]) -> np.ndarray:
    """A boolean array: which texts name at least one identity group."""
    return np.fromiter((mentions(text) for text in texts), dtype=bool, count=len(texts))


def terms_in(text: str) -> set[str]:
    """The identity terms a text mentions, lower-cased."""
    return {match.lower() for match in MENTION.findall(text)}


def flag_rates(
    mentions: np.ndarray, y: np.ndarray, p: np.ndarray, approve_below: float, reject_above: float
) -> dict[str, dict[str, float | int]]:
    """How often non-toxic comments with and without an identity mention are flagged.

    ``queued_or_rejected`` is the share not auto-approved (score >= ``approve_below``): a false
    positive costs a moderator's time; ``auto_rejected`` (score >= ``reject_above``) silences a reader.
    """
    out: dict[str, dict[str, float | int]] = {}
    for group, rows in (("mentions identity", mentions & (y == 0)), ("mentions none", ~mentions & (y == 0))):
        n = int(rows.sum())
        out[group] = {
            "n": n,
            "auto_rejected": float(np.mean(p[rows] >= reject_above)) if n else 0.0,
            "queued_or_rejected": float(np.mean(p[rows] >= approve_below)) if n else 0.0,
        }
    return out
