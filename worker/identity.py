"""Words that name identity groups, for measuring (and training against) identity-term bias.

Toxicity models trained on online comments learn that "gay", "muslim" or "black" predict abuse,
because abuse mentions them more often than polite talk does, and then flag "As a gay man, I ..."
(Dixon et al., 2018, "Measuring and Mitigating Unintended Bias in Text Classification"). Stet uses
this list twice: training re-weights non-toxic comments that mention a group (``training.py``), and
``stet model eval`` compares how often non-toxic comments with and without a mention are flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

IDENTITY_TERMS = (
    # sexual orientation and gender identity
    "gay", "gays", "lesbian", "lesbians", "homosexual", "homosexuals", "homosexuality", "bisexual",
    "transgender", "trans", "queer", "lgbt", "lgbtq",
    # religion
    "muslim", "muslims", "islam", "islamic", "jew", "jews", "jewish", "judaism", "christian",
    "christians", "christianity", "catholic", "catholics", "hindu", "hindus", "buddhist", "sikh",
    "atheist", "atheists",
    # race, ethnicity, nationality and migration
    "black", "blacks", "white", "whites", "african", "asian", "asians", "latino", "latinos", "latina",
    "hispanic", "hispanics", "mexican", "mexicans", "arab", "arabs", "chinese", "indian", "immigrant",
    "immigrants", "refugee", "refugees",
    # gender
    "woman", "women", "female", "females", "feminist", "feminists", "man", "men", "male", "males",
    # disability and age
    "disabled", "deaf", "blind", "autistic", "elderly",
)  # fmt: skip

_MENTION = re.compile(r"\b(?:" + "|".join(IDENTITY_TERMS) + r")\b", re.IGNORECASE)


def mentions_identity(texts: Sequence[str]) -> np.ndarray:
    """A boolean array: which texts name at least one identity group."""
    return np.fromiter((_MENTION.search(text) is not None for text in texts), dtype=bool, count=len(texts))


def terms_in(text: str) -> set[str]:
    """The identity terms a text mentions, lower-cased."""
    return {match.lower() for match in _MENTION.findall(text)}


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
