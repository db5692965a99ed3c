"""How the policy's default thresholds are chosen: the decision mix on validation rows over a grid.

``python -m worker.training.policy_thresholds [--scorer blend]`` scores the validation part of every
set marked "train" (never the test parts that ``stet model eval --task attributes`` reports) with a
scorer as the worker builds it, and for each ``approve_below`` and each ``queue_at`` of threats and
identity attacks prints how many threats, identity attacks, clean comments and civil news comments
(Jigsaw's, which are Civil Comments from news sites) would be published automatically.

The pick (``choose``): of the points that publish at least ``NEWS_APPROVED`` of the civil news
comments, the one that publishes the fewest threats and identity attacks; ties go to the point that
publishes more clean comments. Everything below a point's thresholds is published, so this is the
policy's own rule (``service.policy``) with no spam and no word lists.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from service.config import Settings
from service.policy import CONFIRMED, DANGEROUS, DEFAULT_RULES
from worker.scorers import load_scorer
from worker.training import attribute_data as ad
from worker.training.evaluation import score_texts

APPROVE_BELOW = (0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3)
THREAT_QUEUE_AT = (0.02, 0.03, 0.05, 0.1, 0.2)
IDENTITY_QUEUE_AT = (0.05, 0.1, 0.15, 0.2, 0.3)
# Publish at least this share of civil news comments: issue 12's target for clean comments, held on
# the rows most like a news site's own (other sets' clean rows come from hate forums and tweets).
NEWS_APPROVED = 0.9


def groups(rows: list[ad.Row], y: np.ndarray) -> dict[str, np.ndarray]:
    """Validation rows by what a newsroom cares about; a row can be in several."""
    column = {name: y[:, ad.ATTRIBUTES.index(name)] for name in ("toxicity", "threat", "identity_attack")}
    clean = (y >= 0).any(axis=1) & ~(y == 1).any(axis=1)
    news = np.array([r.source == "jigsaw" for r in rows])
    return {
        "threat": column["threat"] == 1,
        "identity_attack": column["identity_attack"] == 1,
        "clean": clean,
        "civil news": news & (column["toxicity"] == 0),
    }


def published(p: np.ndarray, approve_below: float, queue_at: dict[str, float]) -> np.ndarray:
    """Rows the policy publishes at these thresholds: toxicity below ``approve_below`` and every
    dangerous attribute below its ``queue_at``."""
    keep = p[:, ad.ATTRIBUTES.index("toxicity")] < approve_below
    for name, at in queue_at.items():
        keep &= p[:, ad.ATTRIBUTES.index(name)] < at
    return keep


def grid(p: np.ndarray, by_group: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    fixed = {name: rule.queue_at for name, rule in DEFAULT_RULES.items()}
    points = []
    for approve_below, threat, identity in itertools.product(
        APPROVE_BELOW, THREAT_QUEUE_AT, IDENTITY_QUEUE_AT
    ):
        keep = published(p, approve_below, fixed | {"threat": threat, "identity_attack": identity})
        points.append(
            {"approve_below": approve_below, "threat": threat, "identity_attack": identity}
            | {f"{name} published": float(keep[rows].mean()) for name, rows in by_group.items()}
        )
    return points


def rejected(p: np.ndarray, confirmed: float | None, reject_above: float) -> np.ndarray:
    """Rows the default rules reject on scores: a dangerous attribute at its ``reject_at``, or
    toxicity at ``reject_above`` with a dangerous attribute at ``confirmed`` (or its ``queue_at``
    where higher; ``None``: at its ``queue_at``, the rule before ``policy.CONFIRMED``)."""
    out = np.zeros(len(p), dtype=bool)
    together = np.zeros(len(p), dtype=bool)
    for name, rule in DEFAULT_RULES.items():
        value = p[:, ad.ATTRIBUTES.index(name)]
        if rule.reject_at is not None:
            out |= value >= rule.reject_at
        together |= value >= max(rule.queue_at, confirmed or 0.0)
    return out | (together & (p[:, ad.ATTRIBUTES.index("toxicity")] >= reject_above))


def rejection_table(p: np.ndarray, y: np.ndarray) -> list[str]:
    """How sure a dangerous attribute must be before a very toxic comment is rejected on the two
    together: the share of toxic comments labelled neither threat, hate nor harassment (criticism,
    rudeness) and of dangerous ones that the default rules reject, for each bar."""
    dangerous = y[:, [ad.ATTRIBUTES.index(name) for name in DANGEROUS]]
    rude = (y[:, ad.ATTRIBUTES.index("toxicity")] == 1) & ~(dangerous == 1).any(axis=1)
    rude &= (dangerous == 0).sum(axis=1) >= 2  # labelled not dangerous, not merely unlabelled
    danger = (dangerous == 1).any(axis=1)
    reject_above = Settings().reject_above
    lines = [
        f"toxicity ≥ {reject_above} rejected with a dangerous attribute at (rude, not dangerous: "
        f"{int(rude.sum()):,} rows; dangerous: {int(danger.sum()):,})",
        "| bar | rude, not dangerous, rejected | dangerous rejected |",
        "|---|---|---|",
    ]
    for bar in (None, 0.2, 0.3, CONFIRMED, 0.7, 1.01):
        r = rejected(p, bar, reject_above)
        name = "its queue_at" if bar is None else "never" if bar > 1 else f"{bar:g}"
        lines.append(f"| {name} | {100 * r[rude].mean():.1f}% | {100 * r[danger].mean():.1f}% |")
    return lines


def choose(points: list[dict[str, Any]]) -> dict[str, Any]:
    eligible = [e for e in points if e["civil news published"] >= NEWS_APPROVED] or points
    return min(
        eligible,
        key=lambda e: (e["threat published"] + e["identity_attack published"], -e["clean published"]),
    )


def main(argv: list[str] | None = None) -> None:
    from worker.training import data_root

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scorer", default="blend")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    data = ad.load(args.data or data_root(), jigsaw_negative_share=0.0)
    rows = [r for r in data.rows if r.part == ad.VALIDATION]
    y = ad.Dataset(rows).matrix()
    scorer = load_scorer(args.scorer)
    scores, _ = score_texts(scorer, [r.text for r in rows], "scoring", True)
    p = np.array([[s[name] for name in ad.ATTRIBUTES] for s in scores])
    by_group = groups(rows, y)
    points = grid(p, by_group)
    print(f"{scorer.version}: {len(rows):,} validation rows; " + ", ".join(
        f"{name} {int(r.sum()):,}" for name, r in by_group.items()
    ))  # fmt: skip
    names = list(by_group)
    print("| approve below | threat queue at | identity_attack queue at | " + " | ".join(
        f"{n} published" for n in names) + " |")  # fmt: skip
    print("|---" * (3 + len(names)) + "|")
    for e in points:
        shares = " | ".join(f"{100 * e[f'{n} published']:.1f}%" for n in names)
        print(f"| {e['approve_below']} | {e['threat']} | {e['identity_attack']} | {shares} |")
    print("chosen:", choose(points))
    print("\n".join(rejection_table(p, y)))


if __name__ == "__main__":
    main()
