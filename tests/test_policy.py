"""The policy: clean comments approved, toxic ones rejected, the uncertain middle queued."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.models import Status
from service.policy import Thresholds, decide

T = Thresholds(approve_below=0.1, reject_above=0.9)


@pytest.mark.parametrize(
    ("toxicity", "status"),
    [
        (0.0, Status.APPROVED),
        (0.099, Status.APPROVED),
        (0.1, Status.QUEUED),
        (0.5, Status.QUEUED),
        (0.899, Status.QUEUED),
        (0.9, Status.REJECTED),
        (1.0, Status.REJECTED),
    ],
)
def test_thresholds_split_the_scores(toxicity, status):
    assert decide({"toxicity": toxicity}, T).status is status


def test_reason_names_the_score_and_threshold():
    assert decide({"toxicity": 0.95}, T).reason == "toxicity 0.95 ≥ auto-reject threshold 0.90"


def test_without_a_toxicity_score_a_person_decides():
    assert decide({}, T).status is Status.QUEUED


@pytest.mark.parametrize(("low", "high"), [(0.5, 0.4), (-0.1, 0.5), (0.1, 1.1)])
def test_inconsistent_thresholds_are_refused(low, high):
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(low, high)


def test_defaults_favour_queueing():
    defaults = Settings()
    assert defaults.approve_below < 0.5 < defaults.reject_above
