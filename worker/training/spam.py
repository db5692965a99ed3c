"""Training and evaluation of the spam scorer (``worker/scorers/spam``): content model and combination.

Data (``worker/training/spam_data.py``): the UCI YouTube Spam Collection in the shared data folder,
comments on five videos. Comments are normalised first and the model reads the ``plain`` form, as
in production.

Evaluation is leave-one-video-out (LOVO), nested so that nothing is chosen on the scored video. For
each video, on the other four only: the feature set and ``C`` are chosen by an inner LOVO (mean ROC
AUC); the chosen model's inner out-of-fold log-odds and the signals fit the combination
(``fit_combination``); a model fitted on the four videos scores the fifth, alone and combined. The
shipped model repeats the choice and the combination fit over all five videos and fits on all.

Extra ham: YouTube comments are not what a news site's readers write, and a model that has seen only
them takes some ordinary discussion for spam. So every content-model fit also sees the Civil Comments
news-site comments of ``toxic_spans/tsd_train.csv`` (published comments, essentially none spam) as
ham, those with a link left out, each with a small sample weight: together they weigh
``EXTRA_HAM_SHARE`` times the YouTube ham of that fit. They only train: the TF-IDF weights are fitted
on the YouTube rows alone, the combination on YouTube out-of-fold log-odds alone, and LOVO scores
only the held-out video's YouTube comments.

News comments are not spam-labelled anywhere in the shared data, so ``news_comments`` only counts
how many published news-site comments of the held-out ``toxic_spans/tsd_trial.csv`` (nearly all not
spam) the scorer would queue or reject at the policy's default thresholds.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from service.config import Settings
from service.policy import Thresholds, decide
from service.reasons import ReasonCode
from worker.scorers import packing
from worker.scorers.linear import MODELS_DIR, metadata_path, save_artifact
from worker.scorers.spam import SpamScorer
from worker.scorers.spam.signals import PRIOR_WEIGHTS, SIGNALS_VERSION
from worker.training.data import data_root
from worker.training.metrics import classification_metrics
from worker.training.spam_data import (
    CODES,
    EXTRA_HAM_FILE,
    EXTRA_HAM_SHARE,
    load_training_data,
)
from worker.training.vectorizer import make_vectorizer

MODEL_VERSION = "spam-tfidf-lr-2"
MODEL_FILE = "spam-linear-2.npz"
N_FEATURES = 2**17
CHAR_RANGES = ((2, 5), (1, 5))  # char_wb n-gram ranges tried next to word 1-2-grams
C_GRID = (4.0, 16.0, 64.0)
COMBINATION_L2 = 1.0  # pull of each reason weight (and of model_scale to 1) towards its prior
POLICY_THRESHOLDS = (0.5, 0.95)  # the policy's default spam queue and reject thresholds
NEWS_FILES = ("toxic_spans/tsd_trial.csv",)  # held out: never trained on


def blocks(char_range: tuple[int, int]) -> list[dict[str, Any]]:
    word = {"analyzer": "word", "ngram_range": [1, 2], "token_pattern": r"(?u)\b\w\w+\b"}
    char = {"analyzer": "char_wb", "ngram_range": list(char_range)}
    return [
        {"name": name, "hashing": {**h, "n_features": N_FEATURES, "lowercase": True}}
        for name, h in (("word", word), ("char", char))
    ]


def _fit(
    counts: list[sp.csr_matrix], y: np.ndarray, rows: np.ndarray, C: float, share: float
) -> tuple[list, Any, Any]:
    """TF-IDF and logistic regression fitted on YouTube ``rows`` and the extra ham (the rows of
    ``counts`` after ``y``'s, weighing ``share`` times the ham in ``rows`` together); returns them and a
    log-odds function of YouTube rows. The TF-IDF weights are fitted on ``rows`` alone."""
    tfidfs = [TfidfTransformer(sublinear_tf=True).fit(block[rows]) for block in counts]

    def features(r: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([t.transform(b[r]) for t, b in zip(tfidfs, counts, strict=True)], format="csr")

    extra = np.arange(len(y), counts[0].shape[0]) if share > 0 else np.arange(0)
    weight = share * np.sum(y[rows] == 0) / max(len(extra), 1)
    model = LogisticRegression(C=C, solver="liblinear", random_state=0).fit(
        features(np.concatenate([rows, extra])),
        np.concatenate([y[rows], np.zeros(len(extra), dtype=y.dtype)]),
        sample_weight=np.concatenate([np.ones(len(rows)), np.full(len(extra), weight)]),
    )
    return tfidfs, model, lambda r: model.decision_function(features(r))


def _choose(data: dict[str, Any], counts: dict, videos: list[int], bar: tqdm, share: float) -> dict[str, Any]:
    """Inner LOVO over ``videos``: the best (char range, C) and its out-of-fold log-odds."""
    y, groups = data["y"], data["groups"]
    rows = np.flatnonzero(np.isin(groups, videos))
    results = []
    for char_range in CHAR_RANGES:
        for C in C_GRID:
            oof, aucs = np.zeros(len(y)), []
            for v in videos:
                test = rows[groups[rows] == v]
                oof[test] = _fit(counts[char_range], y, rows[groups[rows] != v], C, share)[2](test)
                aucs.append(roc_auc_score(y[test], oof[test]))
                bar.update()
            results.append({"char_range": char_range, "C": C, "auc": float(np.mean(aucs)), "oof": oof[rows]})
    best = max(results, key=lambda r: r["auc"])
    return {**best, "rows": rows, "grid": [{k: r[k] for k in ("char_range", "C", "auc")} for r in results]}


def fit_combination(log_odds: np.ndarray, hits: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MAP fit of ``model_scale``, ``bias`` and reason weights (see ``worker/scorers/spam``).

    Logistic loss plus ``COMBINATION_L2`` times the squared distance of ``model_scale`` from 1 and of
    each weight from its prior; weights are kept non-negative (a reason never lowers the score).
    """
    x = np.column_stack([log_odds, np.ones(len(y)), hits])
    centre = np.array([1.0, 0.0, *(PRIOR_WEIGHTS[c] for c in CODES)])
    penalty = np.array([COMBINATION_L2, 0.0, *[COMBINATION_L2] * len(CODES)])
    sign = 2.0 * y - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (x @ theta)
        grad = x.T @ (-sign * 0.5 * (1.0 - np.tanh(0.5 * margin)))  # of the sum of log(1 + e^-margin)
        value = np.logaddexp(0.0, -margin).sum() + penalty @ (theta - centre) ** 2
        return float(value), grad + 2.0 * penalty * (theta - centre)

    bounds = [(0.0, None), (None, None)] + [(0.0, None)] * len(CODES)
    theta = minimize(loss, centre, jac=True, method="L-BFGS-B", bounds=bounds).x
    return {
        "model_scale": float(theta[0]),
        "bias": float(theta[1]),
        "weights": {c: round(float(w), 4) for c, w in zip(CODES, theta[2:], strict=True)},
        "l2": COMBINATION_L2,
        "base_rate": float(y.mean()),  # the share of spam the fit saw; see SpamScorer's base_rate
    }


def _counts(data: dict[str, Any]) -> dict[tuple[int, int], list[sp.csr_matrix]]:
    """Raw counts per char range and block: the YouTube rows, then the extra ham's (if loaded)."""
    texts = data["plain"] + data["extra"]["plain"] if "extra" in data else data["plain"]
    return {r: [sp.csr_matrix(make_vectorizer(b).transform(texts)) for b in blocks(r)] for r in CHAR_RANGES}


def _bar(fits: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=fits, desc=desc, unit="fit", disable=not progress, file=sys.stderr)


def leave_one_video_out(
    data: dict[str, Any],
    *,
    share: float = EXTRA_HAM_SHARE,
    counts: dict | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Nested LOVO (see the module docstring): per-video results and the reported figures.

    ``data`` comes from ``load_training_data``; ``share`` weighs its extra ham (0: YouTube alone)."""
    counts = counts if counts is not None else _counts(data)
    y, groups, hits, n = data["y"], data["groups"], data["hits"], len(data["videos"])
    model, combined, per_video = np.zeros(len(y)), np.zeros(len(y)), []
    with _bar(n * (len(CHAR_RANGES) * len(C_GRID) * (n - 1) + 1), "leave one video out", progress) as bar:
        for v in range(n):
            choice = _choose(data, counts, [u for u in range(n) if u != v], bar, share)
            combination = fit_combination(choice["oof"], hits[choice["rows"]], y[choice["rows"]])
            test = np.flatnonzero(groups == v)
            model[test] = _fit(counts[choice["char_range"]], y, choice["rows"], choice["C"], share)[2](test)
            weights = np.array([combination["weights"][c] for c in CODES])
            combined[test] = (
                combination["model_scale"] * model[test] + combination["bias"] + hits[test] @ weights
            )
            bar.update()
            per_video.append(
                {
                    "video": data["videos"][v],
                    "char_range": choice["char_range"],
                    "C": choice["C"],
                    "model_auc": round(float(roc_auc_score(y[test], model[test])), 4),
                    "combined_auc": round(float(roc_auc_score(y[test], combined[test])), 4),
                }
            )
    p_model, p_combined = (0.5 * (1.0 + np.tanh(0.5 * z)) for z in (model, combined))
    defaults = Settings()
    supported = hits.sum(axis=1) > 0
    held = (p_combined >= defaults.spam_queue_above) & (
        supported | (p_combined >= defaults.spam_alone_queue_above)
    )
    return {
        "per_video": per_video,
        "mean_model_auc": round(float(np.mean([v["model_auc"] for v in per_video])), 4),
        "mean_combined_auc": round(float(np.mean([v["combined_auc"] for v in per_video])), 4),
        "pooled_model": classification_metrics(y, p_model),
        "pooled_combined": classification_metrics(y, p_combined),
        # Queued or rejected as spam by the policy at the default thresholds (toxicity aside).
        "held_by_policy": {
            "spam": round(float(held[y == 1].mean()), 4),
            "ham": round(float(held[y == 0].mean()), 4),
        },
        "reason_hit_rates": {
            c: {
                "spam": round(float(hits[y == 1, j].mean()), 4),
                "ham": round(float(hits[y == 0, j].mean()), 4),
            }
            for j, c in enumerate(CODES)
        },
    }


def news_comments(scorer: SpamScorer) -> dict[str, Any] | None:
    """Shares of news-site comments (Civil Comments) at or above the policy's spam thresholds."""
    paths = [data_root() / name for name in NEWS_FILES]
    if not all(p.is_file() for p in paths):
        return None
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as f:
            texts.extend(row["text"] for row in csv.DictReader(f))
    assessed = scorer.assess_batch(texts)
    scores = np.array([a.score for a in assessed])
    linked = np.array([any(r.code == ReasonCode.LINKS for r in a.reasons) for a in assessed])
    share = {f"at_or_above_{t}": round(float(np.mean(scores >= t)), 4) for t in POLICY_THRESHOLDS}
    # What the policy does with them at the default thresholds (toxicity left out): a spam score
    # with no signal behind it needs ``spam_alone_queue_above`` to queue.
    defaults = Settings()
    thresholds = Thresholds(
        defaults.approve_below,
        defaults.reject_above,
        defaults.spam_queue_above,
        defaults.spam_reject_above,
        defaults.spam_alone_queue_above,
    )
    categories = [decide({"spam": a.score, "toxicity": 0.0}, thresholds, a.reasons) for a in assessed]
    share["held_as_spam_by_policy"] = round(float(np.mean([o.category == "spam" for o in categories])), 4)
    with_links = {
        f"at_or_above_{t}": round(float(np.mean(scores[linked] >= t)), 4) for t in POLICY_THRESHOLDS
    }
    return {
        "n": len(texts),
        "base_rate": scorer.base_rate,
        **share,
        "with_links": {"n": int(linked.sum()), **with_links},
    }


def train_spam(
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    *,
    share: float = EXTRA_HAM_SHARE,
    progress: bool = True,
) -> dict:
    """Evaluate by nested LOVO, then fit on all videos (and the extra ham, weighed by ``share``) and
    write ``MODEL_FILE`` + ``.json``."""
    started = datetime.now(UTC)
    data = load_training_data(data_dir, share)
    counts, y, n = _counts(data), data["y"], len(data["videos"])
    lovo = leave_one_video_out(data, share=share, counts=counts, progress=progress)
    with _bar(len(CHAR_RANGES) * len(C_GRID) * n + 1, "final model", progress) as bar:
        choice = _choose(data, counts, list(range(n)), bar, share)
        combination = fit_combination(choice["oof"], data["hits"], y)
        tfidfs, model, log_odds = _fit(counts[choice["char_range"]], y, np.arange(len(y)), choice["C"], share)
        bar.update()
    model_path = Path(out_dir or MODELS_DIR) / MODEL_FILE
    save_artifact(
        model_path,
        blocks=blocks(choice["char_range"]),
        idf=[t.idf_ for t in tfidfs],
        coef=model.coef_,
        intercept=float(model.intercept_[0]),
        metadata={
            "version": MODEL_VERSION,
            "labels": ["spam"],
            "model": "logistic regression, hashed TF-IDF word 1-2-grams and char_wb n-grams, normalised text",
            "created": started.strftime("%Y-%m-%d"),
            "training": {
                "data": "youtube_spam/Youtube0N-*.csv",
                "data_sha256": data["sha256"],
                "videos": data["videos"],
                "rows": len(y),
                "positives": int(y.sum()),
                "extra_ham": {
                    "data": EXTRA_HAM_FILE,
                    "data_sha256": data["extra"]["sha256"],
                    "rows": len(data["extra"]["plain"]),
                    "with_links_left_out": data["extra"]["with_links_left_out"],
                    "share": share,
                    "weighting": "together share x the YouTube ham's weight (1 per comment) in each fit; "
                    "trains the content model only (not TF-IDF, combination or evaluation)",
                }
                if share > 0
                else None,
                "selection": {"by": "mean LOVO ROC AUC over the five videos", "grid": choice["grid"]},
                "char_range": choice["char_range"],
                "C": choice["C"],
                "scikit_learn": sklearn.__version__,
                "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
            },
            "combination": {**combination, "signals_version": SIGNALS_VERSION},
            "lovo": {k: v for k, v in lovo.items() if k != "pooled_model"},
        },
    )
    # The written artifact must reproduce the in-memory model: its weights are rounded for storage,
    # and no spam score (the log-odds times model_scale, through a sigmoid) may move by more than
    # packing.TOLERANCE.
    scorer = SpamScorer.load(model_path)
    max_diff = float(
        np.max(np.abs(scorer.model.decision_function(data["plain"]) - log_odds(np.arange(len(y)))))
    )
    if max_diff * combination["model_scale"] / 4 > packing.TOLERANCE:
        raise RuntimeError(f"the saved artifact's log-odds differ from the model's by {max_diff}")
    return {
        "model_path": str(model_path),
        "artifact_bytes": model_path.stat().st_size + metadata_path(model_path).stat().st_size,
        "version": scorer.version,
        "char_range": choice["char_range"],
        "C": choice["C"],
        "combination": combination,
        "lovo": lovo,
        "news_comments": news_comments(scorer),
    }


def evaluate_spam(
    data_dir: Path | None = None, model_path: Path | None = None, *, progress: bool = True
) -> dict:
    """Re-run the nested LOVO that judges the shipped model's procedure, and the news-comment check.

    The shipped model was fitted on all five videos, so scoring them with it would say nothing;
    this refits per held-out video exactly as ``train_spam`` does.
    """
    scorer = SpamScorer.load(model_path)
    extra = scorer.model.metadata["training"].get("extra_ham")
    share = extra["share"] if extra else 0.0
    data = load_training_data(data_dir, share)
    return {
        "model_version": scorer.version,
        "same_data_as_training": data["sha256"] == scorer.model.metadata["training"]["data_sha256"]
        and (not extra or data["extra"]["sha256"] == extra["data_sha256"]),
        "lovo": leave_one_video_out(data, share=share, progress=progress),
        "news_comments": news_comments(scorer),
    }
