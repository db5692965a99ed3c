"""How the default thresholds are chosen (``worker/training/policy_thresholds.py``): what it counts as
published is exactly what the policy publishes, and it picks as the README says."""

from __future__ import annotations

import numpy as np

from service.models import Status
from service.policy import CONFIRMED, DEFAULT_RULES, Thresholds, decide, merge_rules
from worker.training import attribute_data as ad
from worker.training.policy_thresholds import choose, published, rejected


def test_published_rows_are_the_ones_the_policy_approves():
    rng = np.random.default_rng(0)
    p = rng.random((2000, len(ad.ATTRIBUTES))) ** 4  # mostly low scores, as real comments have
    queue_at = {"threat": 0.03, "identity_attack": 0.2, "severe_toxicity": 0.1, "sexual_explicit": 0.2}
    rules = merge_rules(DEFAULT_RULES, {name: {"queue_at": at} for name, at in queue_at.items()})
    thresholds = Thresholds(approve_below=0.15, reject_above=0.97, attributes=rules)
    mine = published(p, 0.15, queue_at)
    policy = [decide(dict(zip(ad.ATTRIBUTES, row, strict=True)), thresholds).status for row in p]
    assert 0 < mine.sum() < len(p)
    assert mine.tolist() == [status is Status.APPROVED for status in policy]


def test_rejected_rows_are_the_ones_the_policy_rejects():
    rng = np.random.default_rng(1)
    p = rng.random((3000, len(ad.ATTRIBUTES))) ** 2
    p[:, ad.ATTRIBUTES.index("toxicity")] = rng.random(3000) ** 0.2  # many very toxic rows
    thresholds = Thresholds(approve_below=0.08, reject_above=0.97)
    mine = rejected(p, CONFIRMED, 0.97)
    policy = [decide(dict(zip(ad.ATTRIBUTES, row, strict=True)), thresholds).status for row in p]
    assert 0 < mine.sum() < len(p)
    assert mine.tolist() == [status is Status.REJECTED for status in policy]
    assert rejected(p, None, 0.97).sum() > mine.sum()  # the old rule, at queue_at, rejected more


def test_the_pick_publishes_the_fewest_dangerous_comments_among_those_that_publish_civil_news():
    def point(threat: float, identity: float, clean: float, news: float) -> dict:
        return {"threat published": threat, "identity_attack published": identity,
                "clean published": clean, "civil news published": news}  # fmt: skip

    safest_but_holds_news = point(0.01, 0.01, 0.5, 0.85)
    chosen = point(0.05, 0.04, 0.6, 0.91)
    same_danger_fewer_clean = point(0.04, 0.05, 0.55, 0.95)
    riskier = point(0.1, 0.08, 0.7, 0.95)
    assert choose([safest_but_holds_news, same_danger_fewer_clean, chosen, riskier]) is chosen
