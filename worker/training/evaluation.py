"""``stet model eval``: every available scorer on the held-out splits, as Markdown and PNG plots.

The splits are those of ``training.load_splits`` (no scorer Stet trains saw their test rows):
toxicity on the Jigsaw + Davidson held-out 10%, the other labels on the Jigsaw subset's held-out
half and Davidson's held-out 20%, spans on Toxic Spans' trial posts, identity-term flag rates on
the non-toxic comments of the toxicity test part. The policy thresholds are the installation's
(``STET_APPROVE_BELOW``, ``STET_REJECT_ABOVE``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
from tqdm import tqdm

from service.config import Settings
from worker import spans, training
from worker.identity import flag_rates, mentions_identity
from worker.scorers import SCORER_NAMES, TEST_ONLY, Explainer, Scorer, load_scorer

BATCH = 256


def score_texts(scorer: Scorer, texts: Sequence[str], desc: str, progress: bool) -> tuple[list[dict], float]:
    """Every label's score for each text, in batches, and the comments scored per second."""
    out: list[dict[str, float]] = []
    start = time.perf_counter()
    for i in tqdm(
        range(0, len(texts), BATCH), desc=desc, unit="batch", disable=not progress, file=sys.stderr
    ):
        out.extend(scorer.score_batch(texts[i : i + BATCH]))
    return out, len(texts) / max(time.perf_counter() - start, 1e-9)


def _at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Precision and recall of the comments scoring at or above ``threshold``."""
    flagged = p >= threshold
    hits = float(np.sum(flagged & (y == 1)))
    return {
        "threshold": threshold,
        "precision": hits / flagged.sum() if flagged.any() else None,
        "recall": hits / y.sum() if y.any() else None,
        "flagged": float(flagged.mean()),
    }


def _curves(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    return {
        "roc": (fpr, tpr),
        "pr": (recall, precision),
        "roc_legend": f"AUC {_auc(y, p) or 0:.3f}",
        "pr_legend": f"AP {average_precision_score(y, p):.3f}",
    }


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def evaluate_scorer(
    scorer: Scorer, splits: training.Splits, settings: Settings, *, limit: int | None, progress: bool
) -> dict[str, Any]:
    """One scorer's figures; the curves (numpy arrays) are kept apart under ``"curves"``."""
    binary, subset, davidson = splits.binary, splits.subset, splits.davidson
    test = binary.test
    if limit is not None and limit < len(test):
        test = np.sort(np.random.default_rng(0).choice(test, limit, replace=False))
    texts = [binary.texts[i] for i in test]
    y = binary.labels["toxicity"][test]
    scores, per_second = score_texts(scorer, texts, f"{scorer.name}: jigsaw_binary", progress)
    p = np.array([s["toxicity"] for s in scores])
    result: dict[str, Any] = {
        "version": scorer.version,
        "labels": list(scorer.labels),
        "comments_per_s": round(per_second, 1),
        "toxicity": {
            "data": f"{training.DATASET} held out ({len(y)} comments, {int(y.sum())} toxic)",
            "roc_auc": _auc(y, p),
            "average_precision": float(average_precision_score(y, p)),
            "approve_below": _at(y, p, settings.approve_below),
            "reject_above": _at(y, p, settings.reject_above),
        },
        "identity": flag_rates(mentions_identity(texts), y, p, settings.approve_below, settings.reject_above),
        "curves": {"toxicity (jigsaw_binary)": _curves(y, p)},
    }

    per_label = []
    subset_scores, _ = score_texts(scorer, subset.test_texts(), f"{scorer.name}: jigsaw_subset", progress)
    tweet_scores, _ = score_texts(scorer, davidson.test_texts(), f"{scorer.name}: davidson", progress)
    # Each set also within its offensive comments: does the label tell the *kind* of abuse apart?
    for part, name, part_scores, within, within_name in (
        (subset, "jigsaw_subset", subset_scores, "toxicity", "jigsaw_subset, toxic only"),
        (davidson, "davidson", tweet_scores, "offensive", "davidson, hate vs offensive"),
    ):
        inside = part.labels[within][part.test] == 1
        for label in scorer.labels:
            if label not in part.labels:
                continue
            truth = part.labels[label][part.test]
            q = np.array([s[label] for s in part_scores])
            rows = [(name, np.ones(len(truth), dtype=bool))]
            if label != within:
                rows.append((within_name, inside))
                result["curves"][f"{label} ({name})"] = _curves(truth, q)
            for data, mask in rows:
                per_label.append(
                    {
                        "label": label,
                        "data": data,
                        "n": int(mask.sum()),
                        "positives": int(truth[mask].sum()),
                        "roc_auc": _auc(truth[mask], q[mask]),
                    }
                )
    result["per_label"] = per_label

    if isinstance(scorer, Explainer):
        trial_texts, gold = spans.load_toxic_spans(splits.root / training.SPANS_TRIAL)
        predicted = []
        for i in tqdm(
            range(0, len(trial_texts), BATCH),
            desc=f"{scorer.name}: spans",
            disable=not progress,
            file=sys.stderr,
        ):
            predicted.extend(scorer.explain(trial_texts[i : i + BATCH]))
        result["span_f1"] = spans.span_f1(predicted, gold)
    else:
        result["span_f1"] = None
    return result


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: a summary table, per-label AUCs, identity rates and the plots."""
    s = report["settings"]
    lines = [
        "# Stet scorer evaluation",
        "",
        f"{report['date']}, held-out splits of `{report['data']}` (seed {report['split']['seed']}); "
        f"policy thresholds approve below {s['approve_below']}, reject at {s['reject_above']}. "
        f"Reproduce: `{report['command']}`.",
        "",
        "| scorer | version | toxicity ROC AUC | avg precision | ≥ approve: precision / recall | "
        "≥ reject: precision / recall | span F1 (trial) | comments/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["scorers"].items():
        t = r["toxicity"]
        a, j = t["approve_below"], t["reject_above"]
        lines.append(
            f"| `{name}` | {r['version']} | **{_fmt(t['roc_auc'])}** | {_fmt(t['average_precision'])} | "
            f"{_pct(a['precision'])} / {_pct(a['recall'])} | {_pct(j['precision'])} / {_pct(j['recall'])} | "
            f"{_fmt(r['span_f1'], 3)} | {r['comments_per_s']:,.0f} |"
        )
    lines += ["", "Per label (held out; a label's score is compared with that set's annotation):", ""]
    lines += ["| scorer | label | data | comments (positive) | ROC AUC |", "|---|---|---|---|---|"]
    for name, r in report["scorers"].items():
        for row in r["per_label"]:
            lines.append(
                f"| `{name}` | {row['label']} | {row['data']} | {row['n']:,} ({row['positives']:,}) | "
                f"{_fmt(row['roc_auc'])} |"
            )
    lines += [
        "",
        "Identity terms: non-toxic held-out comments that mention an identity group (`worker/identity.py`) "
        "and those that mention none:",
        "",
        "| scorer | group | comments | auto-rejected | queued or rejected |",
        "|---|---|---|---|---|",
    ]
    for name, r in report["scorers"].items():
        for group, g in r["identity"].items():
            rates = f"{_pct(g['auto_rejected'])} | {_pct(g['queued_or_rejected'])}"
            lines.append(f"| `{name}` | {group} | {g['n']:,} | {rates} |")
    for name, reason in report["skipped"].items():
        lines.append(f"\nSkipped `{name}`: {reason}")
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in report["plots"]), ""]
    return "\n".join(lines)


def plot(name: str, curves: dict[str, Any], out_dir: Path) -> list[str]:
    """``<name>-roc.png`` and ``<name>-pr.png``, one curve per label and data set."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    files = []
    for kind, (xlabel, ylabel) in {
        "roc": ("false positive rate", "true positive rate"),
        "pr": ("recall", "precision"),
    }.items():
        fig, ax = plt.subplots(figsize=(6, 5))
        for label, c in curves.items():
            ax.plot(*c[kind], label=f"{label}, {c[f'{kind}_legend']}", linewidth=1.2)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
        ax.set(
            xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.01), title=f"{name}: {kind.upper()} curves"
        )
        ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{name}-{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path.name)
    return files


def evaluate(
    names: Sequence[str] | None = None,
    *,
    root: Path | None = None,
    out_dir: Path = Path("model-eval"),
    limit: int | None = None,
    progress: bool = True,
    scorers: dict[str, Scorer] | None = None,
    command: str = "stet model eval",
    log: Any = None,
) -> dict[str, Any]:
    """Evaluate the named scorers (default: every one but the test-only ones) and write
    ``report.md``, ``report.json`` and the plots into ``out_dir``. ``scorers`` passes ready
    scorers by name instead (e.g. a model file being tried). A scorer that cannot load here
    (a missing checkpoint or extra) is skipped with its reason."""
    settings = Settings.from_env()
    root = Path(root) if root is not None else training.data_root()
    ready: dict[str, Scorer] = dict(scorers or {})
    skipped: dict[str, str] = {}
    for name in names or ([] if scorers else [n for n in SCORER_NAMES if n not in TEST_ONLY]):
        try:
            ready[name] = load_scorer(name)
        except (RuntimeError, OSError, ImportError) as exc:  # ScorerUnavailable is a RuntimeError
            skipped[name] = str(exc)
            if log:
                log(f"skipping scorer {name}: {exc}")
    splits = training.load_splits(root, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, plots = {}, []
    for name, scorer in ready.items():
        result = evaluate_scorer(scorer, splits, settings, limit=limit, progress=progress)
        plots += plot(name, result.pop("curves"), out_dir)
        results[name] = result
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "data": str(root),
        "split": splits.info["split"],
        "settings": {"approve_below": settings.approve_below, "reject_above": settings.reject_above},
        "command": command,
        "scorers": results,
        "skipped": skipped,
        "plots": plots,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    return report
