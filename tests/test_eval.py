"""``stet model eval``: one command, every scorer, Markdown and PNG plots, the issue's targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.stats import fisher_exact

from tests.conftest import ROOT
from worker import training
from worker.scorers import SCORER_NAMES, TEST_ONLY
from worker.scorers.linear import LinearToxicityScorer

PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.timeout(450)  # the module's one evaluation run scores every scorer


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path, str]:
    if not (training.data_root() / training.DATASET).exists():
        pytest.skip(
            f"shared data not found at {training.data_root()} (set STET_DATA_DIR to the shared data folder)"
        )
    out = tmp_path_factory.mktemp("eval")
    # No transformer checkpoint here (and never a download in tests): detoxify and cascade are skipped.
    env = {**os.environ, "STET_DETOXIFY_CHECKPOINT": str(out / "no-such.ckpt"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        # 9,000 of the 18,434 held-out comments: enough identity mentions to test, half the time.
        [sys.executable, "-m", "service.app.cli", "model", "eval", "--out", str(out), "--limit", "9000"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), result.stdout, out, result.stderr


def test_eval_writes_markdown_and_plots_for_every_available_scorer(report) -> None:
    data, stdout, out, stderr = report
    markdown = (out / "report.md").read_text()
    assert markdown == stdout.rstrip("\n") or markdown in stdout
    for name in SCORER_NAMES:
        if name in TEST_ONLY:
            assert name not in data["scorers"]
        elif name in data["skipped"]:
            assert f"skipping scorer {name}" in stderr and f"Skipped `{name}`" in markdown
        else:
            assert f"| `{name}` | {data['scorers'][name]['version']} |" in markdown
            for kind in ("roc", "pr"):
                png = out / f"{name}-{kind}.png"
                assert png.read_bytes().startswith(PNG) and png.stat().st_size > 10_000
                assert f"({png.name})" in markdown
    assert "linear" in data["scorers"]
    assert "%|" in stderr  # progress bars


def test_linear_meets_the_issues_targets(report) -> None:
    linear = report[0]["scorers"]["linear"]
    assert linear["version"] == LinearToxicityScorer.load().version
    assert linear["toxicity"]["roc_auc"] >= 0.975
    assert linear["span_f1"] >= 0.60
    identity, rest = linear["identity"]["mentions identity"], linear["identity"]["mentions none"]
    assert identity["n"] > 500 and rest["n"] > 5000
    assert identity["auto_rejected"] < 0.02
    # "Not worse than comments that mention none": both rates are a handful of comments in
    # thousands, so judge it as a test: identity mentions must not be auto-rejected significantly
    # more often (one-sided Fisher exact test at 5%).
    counts = [[round(g["auto_rejected"] * g["n"]), g["n"]] for g in (identity, rest)]
    table = [[hits, n - hits] for hits, n in counts]
    assert fisher_exact(table, alternative="greater").pvalue > 0.05, table
    assert identity["queued_or_rejected"] < 0.15
    aucs = {(row["label"], row["data"]): row["roc_auc"] for row in linear["per_label"]}
    for label in LinearToxicityScorer.load().labels:
        assert any(key[0] == label for key in aucs), label
    assert all(auc is None or 0.5 < auc <= 1.0 for auc in aucs.values())


def test_policy_thresholds_come_from_the_settings(report) -> None:
    data = report[0]
    assert data["settings"] == {"approve_below": 0.08, "reject_above": 0.97}
    toxicity = data["scorers"]["linear"]["toxicity"]
    assert toxicity["approve_below"]["threshold"] == 0.08 and toxicity["reject_above"]["threshold"] == 0.97
    assert toxicity["reject_above"]["precision"] > toxicity["approve_below"]["precision"]
    assert toxicity["reject_above"]["recall"] < toxicity["approve_below"]["recall"]
