"""Training of the default scorer: heads for all seven attributes on a frozen multilingual encoder.

Recipe (``stet model train --task attributes``; every step shows progress and resumes):

1. Load every set marked "train" (``worker.attribute_data``) with its held-out parts, and the
   evaluation-only sets.
2. Encode each distinct text once with the multilingual Universal Sentence Encoder
   (``worker.scorers.encoder``), cached in chunks under ``.stet/cache``: about 20 minutes for
   270,000 texts on this 2-core machine, then seconds.
3. Train one small network, 512 → ``HIDDEN`` → 7, with one binary cross-entropy per attribute
   masked to the rows whose set labels it. Rows are weighted so each source counts about as much
   as ``SOURCE_CAP`` rows (Jigsaw's 100,000 talk-page posts must not drown 4,000 German tweets).
   The epoch kept is the one with the best mean validation ROC AUC.
4. Blend with the linear model where it has the same label: ``sigmoid(a·logit(heads) +
   b·logit(linear) + c)``, fitted on validation rows, kept only where it raises validation AUC.
5. Measure every attribute per source on test rows nobody trained or tuned on, and on the
   evaluation-only sets; suggest policy thresholds from validation rows.

Training needs torch (the ``transformer`` extra); the artifact is plain arrays (``.npz``) and a
JSON card, and scoring needs numpy only (``worker.scorers.ensemble``). It runs the same on a GPU
when torch sees one.
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
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from worker import attribute_data as ad
from worker.identity import terms_in
from worker.scorers.encoder import Encoder

VERSION = "use-mlp-1"
HIDDEN = 256
EPOCHS = 12
BATCH = 256
SOURCE_CAP = 20_000
JIGSAW_NEGATIVE_SHARE = 0.5
EPS = 1e-6
# Policy thresholds are suggested from validation rows to meet these (README, "Models and the policy").
MAX_MISSED = 0.01  # threats and identity attacks approved at most this often
REJECT_PRECISION = 0.9  # auto-reject a dangerous attribute only this surely


def _source_weights(data: ad.Dataset, rows: np.ndarray) -> np.ndarray:
    sources = [data.rows[i].source for i in rows]
    counts: dict[str, int] = {}
    for s in sources:
        counts[s] = counts.get(s, 0) + 1
    return np.array([min(1.0, SOURCE_CAP / counts[s]) for s in sources], dtype=np.float32)


def fit_heads(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    progress: bool,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """The masked multi-label network; returns its weights at the best validation epoch and the history."""
    import torch

    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(HIDDEN, y.shape[1]),
    ).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    xt, yt, wt = (torch.as_tensor(a, device=device) for a in (x, y.astype(np.float32), w))
    mask = (yt >= 0).float() * wt[:, None]
    history, best, best_state = [], -1.0, None
    rng = np.random.default_rng(seed)
    for epoch in tqdm(range(EPOCHS), desc="training heads", disable=not progress, file=sys.stderr):
        net.train()
        order = torch.as_tensor(rng.permutation(len(x)), device=device)
        total = 0.0
        for start in range(0, len(x), BATCH):
            b = order[start : start + BATCH]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xt[b]), yt[b].clamp(min=0), weight=mask[b], reduction="sum"
            ) / mask[b].sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        state = _numpy_state(net)
        aucs = _aucs(y_val, predict(state, x_val))
        mean = float(np.mean([a for a in aucs.values() if a is not None]))
        history.append(
            {"epoch": epoch + 1, "train_loss": total / len(x), "validation_auc": aucs, "mean": mean}
        )
        if mean > best:
            best, best_state = mean, state
    assert best_state is not None
    return best_state, history


def _numpy_state(net: Any) -> dict[str, np.ndarray]:
    first, last = net[0], net[3]
    return {
        "w1": first.weight.detach().cpu().numpy().T.copy(),
        "b1": first.bias.detach().cpu().numpy().copy(),
        "w2": last.weight.detach().cpu().numpy().T.copy(),
        "b2": last.bias.detach().cpu().numpy().copy(),
    }


def predict(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The heads' logits, one column per attribute (the same arithmetic as the scorer)."""
    hidden = np.maximum(x @ state["w1"] + state["b1"], 0.0)
    return hidden @ state["w2"] + state["b2"]


def _aucs(y: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for j, name in enumerate(ad.ATTRIBUTES):
        labelled = y[:, j] >= 0
        yy = y[labelled, j]
        out[name] = float(roc_auc_score(yy, scores[labelled, j])) if 0 < yy.sum() < len(yy) else None
    return out


def fit_blend(head_logit: np.ndarray, linear_logit: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """``a``, ``b``, ``c`` of the blend when it beats the heads alone on these (validation) rows."""
    both = np.column_stack([head_logit, linear_logit])
    model = LogisticRegression(C=10.0).fit(both, y)
    a, b = (float(v) for v in model.coef_[0])
    blended = model.decision_function(both)
    if roc_auc_score(y, blended) <= roc_auc_score(y, head_logit) + 1e-4 or min(a, b) <= 0:
        return None
    return {"a": a, "b": b, "c": float(model.intercept_[0])}


def apply_blends(logits: np.ndarray, linear: dict[str, np.ndarray], blends: dict[str, Any]) -> np.ndarray:
    out = logits.copy()
    for name, blend in blends.items():
        j = ad.ATTRIBUTES.index(name)
        out[:, j] = blend["a"] * logits[:, j] + blend["b"] * linear[name] + blend["c"]
    return out


def linear_logits(texts: Sequence[str], progress: bool) -> dict[str, np.ndarray]:
    """The linear model's logit per label it has, for ``texts``."""
    from worker.scorers.linear import LinearToxicityScorer

    model = LinearToxicityScorer.load()
    out: dict[str, list[float]] = {label: [] for label in model.labels}
    step = 2048
    for start in tqdm(range(0, len(texts), step), desc="linear model", disable=not progress, file=sys.stderr):
        for s in model.score_batch(list(texts[start : start + step])):
            for label in model.labels:
                out[label].append(s[label])
    return {k: logit(np.clip(np.array(v), EPS, 1 - EPS)) for k, v in out.items()}


def suggest_thresholds(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """From validation rows: for each attribute the highest ``queue_at`` that lets through at most
    ``MAX_MISSED`` of its positives, and the lowest ``reject_at`` whose flagged rows are at least
    ``REJECT_PRECISION`` positive."""
    out: dict[str, Any] = {}
    for j, name in enumerate(ad.ATTRIBUTES):
        labelled = y[:, j] >= 0
        yy, pp = y[labelled, j], p[labelled, j]
        if yy.sum() == 0:
            continue
        queue_at = float(np.floor(np.quantile(pp[yy == 1], MAX_MISSED) * 1000) / 1000)
        reject_at = None
        for t in np.round(np.arange(0.5, 1.0, 0.01), 2):
            flagged = pp >= t
            if flagged.sum() >= 5 and yy[flagged].mean() >= REJECT_PRECISION:
                reject_at = float(t)
                break
        out[name] = {
            "queue_at": queue_at,
            "negatives_queued": float((pp[yy == 0] >= queue_at).mean()),
            "reject_at": reject_at,
            "positives": int(yy.sum()),
            "rows": int(len(yy)),
        }
    return out


def evaluate(
    data: ad.Dataset,
    y: np.ndarray,
    scores: np.ndarray,
    linear: dict[str, np.ndarray] | None,
    rows: np.ndarray,
) -> list[dict[str, Any]]:
    """ROC AUC per source and attribute on ``rows`` (and the linear model's on the same rows)."""
    table = []
    sources = sorted({data.rows[i].source for i in rows})
    for source in sources:
        mine = rows[[data.rows[i].source == source for i in rows]]
        for j, name in enumerate(ad.ATTRIBUTES):
            labelled = mine[y[mine, j] >= 0]
            yy = y[labelled, j]
            entry: dict[str, Any] = {
                "source": source,
                "attribute": name,
                "rows": int(len(yy)),
                "positives": int(yy.sum()),
            }
            if len(yy) == 0:
                continue
            if 0 < yy.sum() < len(yy):
                entry["roc_auc"] = float(roc_auc_score(yy, scores[labelled, j]))
                if linear is not None and name in linear:
                    entry["linear_roc_auc"] = float(roc_auc_score(yy, linear[name][labelled]))
            else:
                entry["flagged_at_0.5"] = float((scores[labelled, j] >= 0.5).mean())
            table.append(entry)
    return table


def train_attributes(
    root: Path | None = None,
    out: Path | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Train, measure and write ``out`` (default: the shipped ``attributes-use-1.npz``) and its card."""
    from worker.scorers.ensemble import DEFAULT_MODEL
    from worker.training import data_root

    root = Path(root) if root is not None else data_root()
    out = Path(out) / DEFAULT_MODEL.name if out is not None and Path(out).suffix != ".npz" else out
    out = out or DEFAULT_MODEL
    started = time.time()
    data = ad.load(root, jigsaw_negative_share=JIGSAW_NEGATIVE_SHARE)
    evaluation = ad.load(root, use="eval")
    texts = list(dict.fromkeys(data.texts + evaluation.texts))
    where = {t: i for i, t in enumerate(texts)}
    encoder = Encoder(threads=2)
    vectors = encoder.encode_cached(texts, cache or Path(".stet/cache/use"), progress)
    x = vectors[[where[t] for t in data.texts]]
    x_eval = vectors[[where[t] for t in evaluation.texts]]
    y, y_eval = data.matrix(), evaluation.matrix()
    train_rows, val_rows, test_rows = (data.where(part=p) for p in (ad.TRAIN, ad.VALIDATION, ad.TEST))

    state, history = fit_heads(
        x[train_rows],
        y[train_rows],
        _source_weights(data, train_rows),
        x[val_rows],
        y[val_rows],
        seed,
        progress,
    )
    lin = linear_logits(data.texts, progress)
    lin_eval = linear_logits(evaluation.texts, progress)
    heads = predict(state, x)
    blends = {}
    for name in lin:
        j = ad.ATTRIBUTES.index(name)
        labelled = val_rows[y[val_rows, j] >= 0]
        blend = fit_blend(heads[labelled, j], lin[name][labelled], y[labelled, j])
        if blend:
            blends[name] = blend
    p = expit(apply_blends(heads, lin, blends))
    p_eval = expit(apply_blends(predict(state, x_eval), lin_eval, blends))
    linear_p = {k: expit(v) for k, v in lin.items()}

    identity = np.array([bool(terms_in(t)) for t in data.texts])
    card = {
        "version": VERSION,
        "encoder": encoder.version,
        "labels": list(ad.ATTRIBUTES),
        "hidden": HIDDEN,
        "blends": blends,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.time() - started),
        "data": {
            "rows": {
                part: int(len(r))
                for part, r in ((ad.TRAIN, train_rows), (ad.VALIDATION, val_rows), (ad.TEST, test_rows))
            },
            "sources": sorted({r.source for r in data.rows}),
            "evaluation_only": sorted({r.source for r in evaluation.rows}),
            "jigsaw_negative_share": JIGSAW_NEGATIVE_SHARE,
            "source_cap": SOURCE_CAP,
        },
        "history": history,
        "suggested_thresholds": suggest_thresholds(y[val_rows], p[val_rows]),
        "test": evaluate(data, y, p, linear_p, test_rows),
        "evaluation_only": evaluate(
            evaluation,
            y_eval,
            p_eval,
            {k: expit(v) for k, v in lin_eval.items()},
            np.arange(len(evaluation.rows)),
        ),
        "identity_rows_in_test": int(identity[test_rows].sum()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **{k: v.astype(np.float32) for k, v in state.items()})
    out.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return card
