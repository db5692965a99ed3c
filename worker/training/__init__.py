"""Training and evaluation, apart from the worker's runtime: what ``stet model train|eval`` runs.

``data`` (the toxicity sets and their splits), ``metrics`` (what every trainer reports),
``toxicity`` (the linear model: identity re-weighting, heads, spans), ``attribute_data``,
``attributes``, ``attribute_metrics`` and ``attribute_eval`` (the default scorer's seven heads),
``transformer`` and ``transformer_card`` (the optional MiniLM, its model card and ONNX export),
``spam`` and ``spam_data``, and ``evaluation`` (every scorer on held-out data).
The shared data helpers are re-exported here.
"""

from worker.training.data import (
    DATA_ENV,
    DATASET,
    SPANS_TRAIN,
    SPANS_TRIAL,
    Splits,
    data_root,
    default_data_path,
    load_splits,
)
from worker.training.metrics import classification_metrics
from worker.training.toxicity import (
    MIN_HEAD_POSITIVES,
    identity_weights,
    mask_identity_terms,
    train_toxicity,
)

__all__ = [
    "DATASET",
    "DATA_ENV",
    "MIN_HEAD_POSITIVES",
    "SPANS_TRAIN",
    "SPANS_TRIAL",
    "Splits",
    "classification_metrics",
    "data_root",
    "default_data_path",
    "identity_weights",
    "load_splits",
    "mask_identity_terms",
    "train_toxicity",
]
