"""``stet model eval --task attributes``: the shipped default scorer on every source's held-out rows.

Scores the test parts of every set marked "train" and every evaluation-only set with the shipped
``ensemble`` scorer (exactly what the worker runs), and the linear model on the same rows, then:

* ROC AUC per source and attribute, the linear model's beside it where it has the label;
* the decision mix at the installation's thresholds (``service.policy.decide``): how often
  threats, identity attacks, severe abuse and sexual harassment are auto-approved, how often clean
  comments are, and how often non-toxic comments that mention an identity group are held compared
  with the rest; the linear model under the policy it shipped with (reject toxicity ≥ 0.97,
  approve < 0.08) is the baseline;
* a chart of the AUCs (``attributes.png``), ``attributes.md`` and ``attributes.json``.

Nothing here was trained or tuned on these rows (``worker.training.attribute_data``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service import policy
from service.config import Settings
from service.identity import MENTION
from service.models import Status
from worker.identity import mentions_identity, terms_in
from worker.scorers import Scorer, load_scorer
from worker.scorers.ensemble import EnsembleScorer
from worker.scorers.linear import LinearToxicityScorer
from worker.training import attribute_data as ad
from worker.training.attribute_metrics import evaluate, language_validation
from worker.training.evaluation import score_texts

BATCH = 256
DANGEROUS = tuple(policy.DANGEROUS)
OLD_APPROVE_BELOW, OLD_REJECT_AT = 0.08, 0.97  # the linear model's policy before this one


def _score(
    scorer: Scorer, linear: LinearToxicityScorer, texts: list[str], progress: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """The scorer's seven probabilities, the linear model's toxicity, obscene, insult and identity
    attack, and the scorer's comments per second (in batches, as the worker runs it)."""
    ours, per_s = score_texts(scorer, texts, "scoring", progress)
    theirs, _ = score_texts(linear, texts, "linear", progress)
    return (
        np.array([[s[label] for label in ad.ATTRIBUTES] for s in ours]),
        np.array(
            [[s[label] for label in ("toxicity", "obscene", "insult", "identity_attack")] for s in theirs]
        ),
        per_s,
    )


def span_f1(scorer: Any, linear: LinearToxicityScorer, root: Path) -> dict[str, float]:
    """Character F1 of the scorer's spans and of the linear model's own on the Toxic Spans trial set."""
    from worker import spans
    from worker.training import SPANS_TRIAL

    texts, gold = spans.load_toxic_spans(root / SPANS_TRIAL)
    found: dict[str, list[Any]] = {"scorer": [], "linear": []}
    for start in range(0, len(texts), BATCH):
        found["scorer"] += scorer.explain(texts[start : start + BATCH])
        found["linear"] += linear.explain(texts[start : start + BATCH])
    return {name: spans.span_f1(predicted, gold) for name, predicted in found.items()}


def decision_mix(
    y: np.ndarray, texts: list[str], decide: Callable[[dict[str, float]], Status], scores: np.ndarray
) -> dict[str, Any]:
    """Shares approved, queued and rejected per group of held-out rows."""
    statuses = np.array([decide(dict(zip(ad.ATTRIBUTES, row, strict=True))).value for row in scores])
    labelled_any = (y >= 0).any(axis=1)
    clean = labelled_any & ~(y == 1).any(axis=1)
    mention = mentions_identity(texts)
    non_toxic = (y[:, 0] == 0) & clean
    groups = {name: y[:, ad.ATTRIBUTES.index(name)] == 1 for name in DANGEROUS}
    groups |= {
        "toxic (any source's label)": y[:, 0] == 1,
        "clean (no attribute labelled)": clean,
        "non-toxic, mentions an identity group": non_toxic & mention,
        "non-toxic, mentions none": non_toxic & ~mention,
    }
    out = {}
    for name, rows in groups.items():
        n = int(rows.sum())
        out[name] = {"rows": n} | {
            status: float((statuses[rows] == status).mean()) if n else None
            for status in ("approved", "queued", "rejected")
        }
    return out


def identity_spans(scorer: Any, linear: LinearToxicityScorer, texts: list[str]) -> dict[str, Any]:
    """Of held-out comments that name a group, how many get a highlighted span made of identity
    terms alone ("Black"): the ensemble's spans against the linear model's own."""
    counts = {"comments": len(texts), "ensemble_marks_a_term": 0, "linear_marks_a_term": 0}
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        for key, found in (
            ("ensemble_marks_a_term", scorer.explain(batch)),
            ("linear_marks_a_term", linear.explain(batch)),
        ):
            counts[key] += sum(
                any(_only_identity(text[a:b]) for a, b, _ in spans)
                for text, spans in zip(batch, found, strict=True)
            )
    return counts


def _only_identity(span: str) -> bool:
    return bool(terms_in(span)) and not MENTION.sub(" ", span).strip(" \t\n,.;:!?'\"()")


def evaluate_attributes(
    root: Path | None = None,
    out_dir: Path = Path("model-eval"),
    *,
    model: Path | None = None,
    scorer_name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Everything above for the artifact ``model`` (default: the shipped one), or for the scorer
    ``scorer_name`` as ``load_scorer`` builds it (``blend``: the ensemble with a transformer)."""
    from worker.training import data_root

    root = Path(root) if root is not None else data_root()
    data = ad.load(root, jigsaw_negative_share=0.0)  # the test parts are whole; training rows unused
    evaluation = ad.load(root, use="eval")
    rows = [r for r in data.rows if r.part == ad.TEST] + evaluation.rows
    n_test = len(rows) - len(evaluation.rows)
    y = np.vstack([ad.Dataset(rows[:n_test]).matrix(), evaluation.matrix()])
    texts = [r.text for r in rows]
    scorer: Any = load_scorer(scorer_name) if scorer_name else EnsembleScorer.load(model, threads=2)
    linear_model = LinearToxicityScorer.load()
    p, linear, per_s = _score(scorer, linear_model, texts, progress)

    settings = Settings.from_env()
    thresholds = policy.Thresholds(
        settings.approve_below,
        settings.reject_above,
        attributes=settings.attribute_rules,
        rude=settings.rude,
    )

    def ours(scores: dict[str, float]) -> Status:
        return policy.decide(scores, thresholds).status

    def old(scores: dict[str, float]) -> Status:
        t = scores["toxicity"]
        return (
            Status.REJECTED
            if t >= OLD_REJECT_AT
            else Status.APPROVED
            if t < OLD_APPROVE_BELOW
            else Status.QUEUED
        )

    named = [t for t, m in zip(texts, mentions_identity(texts), strict=True) if m]
    spans = identity_spans(scorer, linear_model, named)
    linear_as_scores = np.zeros_like(p)
    linear_as_scores[:, 0] = linear[:, 0]
    test = np.arange(n_test)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scorer": scorer.version,
        "thresholds": {
            "approve_below": thresholds.approve_below,
            "reject_above": thresholds.reject_above,
            "attributes": {k: [r.queue_at, r.reject_at] for k, r in thresholds.attributes.items()},
            "rude": thresholds.rude,
        },
        "test": evaluate(rows, y, p, linear, test),
        "languages": language_validation(rows, y, p, test),
        "evaluation_only": evaluate(rows, y, p, linear, np.arange(n_test, len(rows))),
        "identity_spans": spans,
        "span_f1": span_f1(scorer, linear_model, root),
        "comments_per_s": round(per_s, 1),
        "decisions": {
            f"{scorer.name}, this policy": decision_mix(y[test], texts[:n_test], ours, p[test]),
            "linear, the policy it shipped with": decision_mix(
                y[test], texts[:n_test], old, linear_as_scores[test]
            ),
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "attributes.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    _chart(report, out_dir / "attributes.png")
    (out_dir / "attributes.md").write_text(markdown(report), encoding="utf-8")
    return report


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Every attribute per source ({report['scorer']}, {report['date']})",
        "",
        "Held-out rows only; the linear model (`tfidf-lr-2`) on the same rows where it has the label.",
        "",
        "| data | source | attribute | rows (positive) | ROC AUC | linear |",
        "|---|---|---|---|---|---|",
    ]
    for part in ("test", "evaluation_only"):
        for e in report[part]:
            auc = (
                _fmt(e.get("roc_auc"))
                if "roc_auc" in e
                else f"{100 * e['flagged_at_0.5']:.0f}% flagged at 0.5"
            )
            lines.append(
                f"| {'held out' if part == 'test' else 'evaluation only'} | {e['source']} | "
                f"{e['attribute']} | "
                f"{e['rows']:,} ({e['positives']:,}) | {auc} | {_fmt(e.get('linear_roc_auc'))} |"
            )
    languages = report["languages"]
    lines += [
        "",
        f"Languages (validated: toxicity ROC AUC ≥ {languages['roc_auc_at_least']} on held-out rows, "
        "pooled over the language's sets, with 50+ rows of each class):",
        "",
        "| language | sets | rows (toxic) | toxicity ROC AUC | validated |",
        "|---|---|---|---|---|",
    ]
    for code, e in languages["measured"].items():
        lines.append(
            f"| {code} | {', '.join(e['sources'])} | {e['rows']:,} ({e['positives']:,}) | "
            f"{_fmt(e.get('toxicity_roc_auc'))} | {'yes' if code in languages['validated'] else 'no'} |"
        )
    t = report["thresholds"]
    lines += [
        "",
        f"Decisions at approve below {t['approve_below']}, reject above {t['reject_above']} (only with a "
        f"dangerous attribute), dangerous attributes [queue at, reject at] {t['attributes']}, "
        f"rude: {t['rude']}:",
        "",
        "| scorer and policy | held-out rows | rows | approved | queued | rejected |",
        "|---|---|---|---|---|---|",
    ]
    for name, groups in report["decisions"].items():
        for group, g in groups.items():
            shares = " | ".join(
                "–" if g[s] is None else f"{100 * g[s]:.1f}%" for s in ("approved", "queued", "rejected")
            )
            lines.append(f"| {name} | {group} | {g['rows']:,} | {shares} |")
    spans = report["identity_spans"]
    lines += [
        "",
        f"Spans on {spans['comments']:,} held-out comments that name an identity group: "
        f"{spans['ensemble_marks_a_term']:,} have a highlighted span that is only an identity term with the "
        f"scorer, {spans['linear_marks_a_term']:,} with the linear model's own spans. Span F1 on the Toxic "
        f"Spans trial set: {report['span_f1']['scorer']:.3f} (the linear model's own "
        f"{report['span_f1']['linear']:.3f}). Comments scored per second, in batches of {BATCH}: "
        f"{report['comments_per_s']:,.0f}.",
        "",
        "![AUC per source and attribute](attributes.png)",
        "",
    ]
    return "\n".join(lines)


def _chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    entries = [e for part in ("test", "evaluation_only") for e in report[part] if "roc_auc" in e]
    names = [f"{e['source']} / {e['attribute']}" for e in entries]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(entries) + 1.2))
    at = np.arange(len(entries))
    ax.barh(at + 0.2, [e["roc_auc"] for e in entries], height=0.4, label=report["scorer"])
    ax.barh(at - 0.2, [e.get("linear_roc_auc", np.nan) for e in entries], height=0.4, label="linear")
    ax.set_yticks(at, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("ROC AUC on held-out rows")
    ax.axvline(0.9, color="grey", lw=0.5, ls="--")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
