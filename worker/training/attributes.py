"""Training of the default scorer: seven attributes from a multilingual encoder and n-gram heads, stacked.

Recipe (``stet model train --task attributes``; every step shows progress, the slow one resumes):

1. Load every set marked "train" (``worker.training.attribute_data``) with its held-out parts, and the
   evaluation-only sets. Every text is ``prepare``d as in service (mentions and links removed).
2. Encode each distinct text once with the multilingual Universal Sentence Encoder
   (``worker.scorers.encoder``), cached in chunks under ``.stet/cache``: about 15 minutes for
   270,000 texts on this 2-core machine, then seconds.
3. N-gram features: the shipped linear model's TF-IDF (``LinearToxicityScorer.features``) and its
   four log-odds. One n-gram logistic regression per attribute (SGD, ``SPARSE_ALPHA``) on the rows
   whose set labels it; the stacker sees these heads' *out-of-fold* scores on training rows
   (``FOLDS``), so it learns how far to trust them on text they never saw.
4. The stacker: one small network, (512 + 4 + 7) → ``HIDDEN`` → 7, with one binary cross-entropy
   per attribute masked to the rows whose set labels it. Rows are weighted so each source counts
   at most as much as ``SOURCE_CAP`` rows (Jigsaw's 100,000 talk-page posts must not drown 4,000
   German tweets), and a set in another language at least as much as ``LANGUAGE_FLOOR``.
   The epoch kept is the one with the best mean validation ROC AUC.
5. Measure every attribute per source on test rows nobody trained or tuned on, and on the
   evaluation-only sets; suggest policy thresholds from validation rows.

Training needs torch (the ``transformer`` extra; it uses a GPU when torch sees one); the artifact is
plain arrays (``.npz``, the n-gram heads rounded to multiples of ``packing.STEP``: the card's figures
are the float model's, the stored one's scores are within ``packing.TOLERANCE``) and a JSON card,
and scoring needs numpy only (``worker.scorers.ensemble``).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from worker.identity import mentions_identity
from worker.scorers.encoder import Encoder
from worker.scorers.ensemble import DEFAULT_MODEL, SPARSE_KEEP, EnsembleScorer, prepare, save_artifact
from worker.scorers.linear import LinearToxicityScorer
from worker.training import attribute_data as ad
from worker.training import identity_weights, mask_identity_terms
from worker.training.attribute_metrics import (
    auc_per_attribute,
    evaluate,
    language_validation,
    suggest_thresholds,
)

VERSION = "use-stack-2"
HIDDEN = 256
EPOCHS = 12
BATCH = 256
SOURCE_CAP = 20_000
# A set in another language than English counts as at least this many rows: German and French
# have a few thousand each, and the encoder's other languages learn only from them.
LANGUAGE_FLOOR = 10_000
JIGSAW_NEGATIVE_SHARE = 0.5
SPARSE_ALPHA = 2e-6
FOLDS = 5
CHUNK = 4096
IDENTITY_REWEIGHTED = ("toxicity", "identity_attack")


def _source_weights(sources: np.ndarray, languages: np.ndarray) -> np.ndarray:
    counts = Counter(sources.tolist())
    return np.array(
        [
            max(min(1.0, SOURCE_CAP / counts[s]), LANGUAGE_FLOOR / counts[s] if lang != "en" else 0.0)
            for s, lang in zip(sources, languages, strict=True)
        ],
        dtype=np.float32,
    )


def linear_features(
    linear: LinearToxicityScorer, texts: list[str], progress: bool
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The linear model's TF-IDF features and its four log-odds, for every text."""
    blocks, odds = [], []
    for start in tqdm(
        range(0, len(texts), CHUNK), desc="n-gram features", disable=not progress, file=sys.stderr
    ):
        x = linear.features(texts[start : start + CHUNK]).astype(np.float32)
        z, heads = linear.log_odds(x)
        blocks.append(sp.csr_matrix((x.data, x.indices, x.indptr), shape=x.shape))
        odds.append(np.column_stack([z, heads]))
    return sp.vstack(blocks, format="csr"), np.vstack(odds).astype(np.float32)


def training_weights(
    texts: list[str], y: np.ndarray, sources: np.ndarray, languages: np.ndarray
) -> np.ndarray:
    """Per row and attribute: the source cap (and the floor of other languages), times identity
    re-weighting (``identity_weights``) for toxicity and identity attacks, so that naming a group
    stops predicting either."""
    w = np.repeat(_source_weights(sources, languages)[:, None], len(ad.ATTRIBUTES), axis=1)
    for name in IDENTITY_REWEIGHTED:
        j = ad.ATTRIBUTES.index(name)
        labelled = np.flatnonzero(y[:, j] >= 0)
        factor, _ = identity_weights([texts[i] for i in labelled], y[labelled, j])
        w[labelled, j] *= factor
    return w


def fit_sparse_heads(
    x: sp.csr_matrix, y: np.ndarray, w: np.ndarray, train: np.ndarray, seed: int, progress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per attribute, an n-gram logistic regression on the training rows that label it (weights
    ``w``, rows × attributes). Identity terms' own n-grams may push no attribute up but
    identity_attack (``mask_identity_terms``: naming a group is part of attacking it, of nothing else).

    Returns the coefficients (features × attributes), the intercepts, and every row's score, which
    for a training row is out-of-fold (from the fold that did not see it).
    """

    def fit(rows: np.ndarray, j: int) -> tuple[np.ndarray, float]:
        model = SGDClassifier(loss="log_loss", alpha=SPARSE_ALPHA, max_iter=8, tol=None, random_state=seed)
        model.fit(x[rows], y[rows, j], sample_weight=w[rows, j])
        coef = model.coef_[0].astype(np.float32)
        if ad.ATTRIBUTES[j] != "identity_attack":
            mask_identity_terms(coef)
        return coef, float(model.intercept_[0])

    coef = np.zeros((x.shape[1], len(ad.ATTRIBUTES)), dtype=np.float32)
    intercept = np.zeros(len(ad.ATTRIBUTES), dtype=np.float32)
    scores = np.zeros((x.shape[0], len(ad.ATTRIBUTES)), dtype=np.float32)
    for j, _name in enumerate(
        tqdm(ad.ATTRIBUTES, desc="n-gram heads", disable=not progress, file=sys.stderr)
    ):
        rows = train[y[train, j] >= 0]
        coef[:, j], intercept[j] = fit(rows, j)
        scores[:, j] = x @ coef[:, j] + intercept[j]
        for fit_part, held in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(rows, y[rows, j]):
            fold_coef, fold_intercept = fit(rows[fit_part], j)
            scores[rows[held], j] = x[rows[held]] @ fold_coef + fold_intercept
    return coef, intercept, scores


def fit_stacker(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    progress: bool,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """The masked multi-label network (``w``: weights per row and attribute); its weights at the best
    validation epoch, and the history."""
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
    mask = (yt >= 0).float() * wt
    history: list[dict[str, Any]] = []
    best, best_state = -1.0, None
    rng = np.random.default_rng(seed)
    for epoch in tqdm(range(EPOCHS), desc="stacker", disable=not progress, file=sys.stderr):
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
            total += float(loss.detach()) * len(b)
        first, last = net[0], net[3]
        state = {
            "w1": first.weight.detach().cpu().numpy().T.copy(),
            "b1": first.bias.detach().cpu().numpy().copy(),
            "w2": last.weight.detach().cpu().numpy().T.copy(),
            "b2": last.bias.detach().cpu().numpy().copy(),
        }
        aucs = auc_per_attribute(y_val, EnsembleScorer.stack(state, x_val))
        mean = float(np.mean([a for a in aucs.values() if a is not None]))
        history.append(
            {"epoch": epoch + 1, "train_loss": total / len(x), "validation_auc": aucs, "mean": mean}
        )
        if mean > best:
            best, best_state = mean, state
    assert best_state is not None
    return best_state, history


def train_attributes(
    root: Path | None = None,
    out: Path | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Train, measure and write ``out`` (default: the shipped ``attributes-use-2.npz``) and its card."""
    from worker.training import data_root

    root = Path(root) if root is not None else data_root()
    out = Path(out) if out is not None else DEFAULT_MODEL
    out = out / DEFAULT_MODEL.name if out.suffix != ".npz" else out
    started = time.time()
    data = ad.load(root, jigsaw_negative_share=JIGSAW_NEGATIVE_SHARE)
    evaluation = ad.load(root, use="eval")
    rows = data.rows + evaluation.rows
    texts = [prepare(t) for t in dict.fromkeys(r.text for r in rows)]
    where = {t: i for i, t in enumerate(dict.fromkeys(r.text for r in rows))}
    index = np.array([where[r.text] for r in rows])  # row -> distinct text
    y = np.vstack([data.matrix(), evaluation.matrix()])
    n = len(data.rows)
    sources = np.array([r.source for r in rows])
    languages = np.array([r.language for r in rows])
    train, val, test = (data.where(part=p) for p in (ad.TRAIN, ad.VALIDATION, ad.TEST))

    encoder = Encoder(threads=2)
    vectors = encoder.encode_cached(texts, cache or Path(".stet/cache/use"), progress)
    linear = LinearToxicityScorer.load()
    x_text, odds = linear_features(linear, texts, progress)
    x_rows = x_text[index]
    weights = np.ones_like(y, dtype=np.float32)
    weights[train] = training_weights(
        [rows[i].text for i in train], y[train], sources[train], languages[train]
    )
    coef, intercept, sparse_scores = fit_sparse_heads(x_rows, y, weights, train, seed, progress)
    features = np.hstack([vectors[index], odds[index] / 4, sparse_scores / 4]).astype(np.float32)
    state, history = fit_stacker(
        features[train], y[train], weights[train], features[val], y[val], seed, progress
    )
    p = expit(EnsembleScorer.stack(state, features))
    linear_p = expit(odds[index])
    linear_p[:, 1:] *= linear_p[:, :1]  # the linear model's heads are P(toxicity) × q

    kept = np.abs(coef) >= SPARSE_KEEP
    card = {
        "version": VERSION,
        "encoder": encoder.version,
        "linear": linear.version,
        "labels": list(ad.ATTRIBUTES),
        "hidden": HIDDEN,
        "sparse_alpha": SPARSE_ALPHA,
        "sparse_weights_kept": int(kept.sum()),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.time() - started),
        "data": {
            "rows": {"train": len(train), "validation": len(val), "test": len(test)},
            "sources": sorted(set(sources[:n])),
            "evaluation_only": sorted(set(sources[n:])),
            "jigsaw_negative_share": JIGSAW_NEGATIVE_SHARE,
            "source_cap": SOURCE_CAP,
        },
        "history": history,
        "suggested_thresholds": suggest_thresholds(y[val], p[val]),
        "test": evaluate(rows, y, p, linear_p, test),
        "languages": language_validation(rows, y, p, test),
        "evaluation_only": evaluate(rows, y, p, linear_p, np.arange(n, len(rows))),
        "identity_mentions_in_test": int(mentions_identity([rows[i].text for i in test]).sum()),
    }
    save_artifact(out, card, state, np.where(kept, coef, 0.0), intercept)
    return card
