"""Detoxify-format checkpoints, scored through the ``detoxify`` package, online or fully offline.

A detoxify checkpoint is a ``torch.save``d dict ``{"config": {"arch": {"args": {model_type,
model_name, tokenizer_name, num_classes}}, "dataset": {"args": {"classes": [...]}}}, "state_dict":
...}``. detoxify 0.5.4 builds the model with ``config_class.from_pretrained(model_type)``, where
``model_type`` is a Hugging Face hub name stored in the checkpoint, so it needs the hub even when
given a local checkpoint and ``huggingface_config_path``. Stet works around that without touching
detoxify: ``load_detoxify`` reads the checkpoint itself, points ``model_type`` at a local
config/tokenizer folder and hands the rest to detoxify's own ``get_model_and_tokenizer``; the
result is a ``detoxify.Detoxify`` whose ``predict`` does the scoring. Stet's checkpoints also carry
a ``"stet"`` dict (version, max_length, training data and metrics).

Needs the ``transformer`` extra (torch, transformers, detoxify).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from detoxify import Detoxify
from detoxify.detoxify import MODEL_URLS, get_model_and_tokenizer

from worker.scorers import ENGLISH, padded_runs

BATCH_SIZE = 32


class _LoadedDetoxify(Detoxify):
    """A ``Detoxify`` around a model and tokenizer built by ``load_detoxify``; ``predict`` is detoxify's."""

    def __init__(self, model: Any, tokenizer: Any, class_names: list[str], device: str) -> None:
        # Detoxify.__init__ would load (and download) the checkpoint again; set what predict() uses.
        self.model, self.tokenizer, self.class_names, self.device = model, tokenizer, class_names, device
        self.model.to(device)


def save_checkpoint(
    path: Path,
    model: Any,
    classes: Sequence[str],
    *,
    model_type: str,
    tokenizer_name: str,
    stet: dict[str, Any],
    half: bool = True,
) -> None:
    """Write ``model`` (a ``transformers`` ``*ForSequenceClassification``) as a detoxify checkpoint.

    ``model_type`` is the hub name detoxify would download the config from when no local folder is
    given; ``stet`` must contain ``version``. ``half`` stores float weights as float16 (half the size;
    they are widened again when loaded into the float32 model).
    """
    state = {k: v.half() if half and v.is_floating_point() else v for k, v in model.state_dict().items()}
    checkpoint = {
        "config": {
            "arch": {
                "args": {
                    "model_type": model_type,
                    "model_name": type(model).__name__,
                    "tokenizer_name": tokenizer_name,
                    "num_classes": len(classes),
                }
            },
            "dataset": {"args": {"classes": list(classes)}},
        },
        "state_dict": state,
        "stet": stet,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def load_detoxify(
    checkpoint: str | Path, config_dir: Path | None = None, device: str = "cpu"
) -> tuple[Detoxify, str, dict[str, Any]]:
    """A ``detoxify.Detoxify`` for an official model name or a checkpoint file, its version and metadata.

    With ``config_dir`` (a folder holding the model's ``config.json`` and tokenizer files) nothing
    is downloaded. Without it an official name goes through ``Detoxify(model_type=...)``, which
    downloads once into the torch hub and Hugging Face caches and reads them from there afterwards.
    """
    name = str(checkpoint)
    if name in MODEL_URLS:
        version = f"detoxify-{name}-{Path(MODEL_URLS[name]).stem.rsplit('-', 1)[-1]}"
        if config_dir is None:
            return Detoxify(model_type=name, device=device), version, {}
        loaded = torch.hub.load_state_dict_from_url(MODEL_URLS[name], map_location=device, weights_only=False)
    else:
        path = Path(checkpoint)
        # weights_only: a checkpoint file is plain dicts, lists, strings and tensors; refuse code in it.
        loaded = torch.load(path, map_location=device, weights_only=True)
        if "config" not in loaded or "state_dict" not in loaded:
            raise ValueError(f"{path}: not a detoxify checkpoint (needs 'config' and 'state_dict')")
        version = loaded.get("stet", {}).get("version") or f"{path.stem}-{_file_hash(path)}"
    metadata = loaded.get("stet", {})
    args = dict(loaded["config"]["arch"]["args"])
    if config_dir is not None:
        args["model_type"] = str(config_dir)  # from_pretrained(<local folder>) never reaches the hub
    model, tokenizer = get_model_and_tokenizer(**args, state_dict=loaded["state_dict"])
    model = model.float()  # transformers keeps the dtype of float16 weights; CPU inference wants float32
    if "max_length" in metadata:
        tokenizer.model_max_length = int(metadata["max_length"])  # the length it was trained with
    # detoxify's own renaming of the Jigsaw class names
    renames = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}
    classes = [renames.get(c, c) for c in loaded["config"]["dataset"]["args"]["classes"]]
    return _LoadedDetoxify(model, tokenizer, classes, device), version, metadata


def _file_hash(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:8]


def predict_sorted(
    detox: Detoxify, texts: Sequence[str], batch_size: int = BATCH_SIZE
) -> list[dict[str, float]]:
    """Score ``texts`` with ``detox.predict`` in runs of similar length (``padded_runs``), in order."""
    results: list[dict[str, float]] = [{} for _ in texts]
    lengths = [len(ids) for ids in detox.tokenizer(list(texts), truncation=True)["input_ids"]]
    for rows in padded_runs(lengths, batch_size):
        scores = detox.predict([texts[i] for i in rows])
        for label, values in scores.items():
            values = values if isinstance(values, list) else [values]  # predict squeezes a batch of one
            for i, value in zip(rows, values, strict=True):
                results[i][label] = float(value)
    return results


class DetoxifyScorer:
    """Any detoxify-format checkpoint; labels are the checkpoint's classes, in detoxify's names."""

    name = "detoxify"
    languages = reads = ENGLISH  # trained and measured on English comments

    def __init__(self, detox: Detoxify, version: str, metadata: dict[str, Any] | None = None) -> None:
        self.detox = detox
        self.version = version
        self.metadata = metadata or {}
        self.labels: tuple[str, ...] = tuple(detox.class_names)
        self.batch_size = BATCH_SIZE
        self._linear: Any = None

    @classmethod
    def load(cls, checkpoint: str | Path, config_dir: Path | None = None) -> DetoxifyScorer:
        detox, version, metadata = load_detoxify(checkpoint, config_dir)
        return cls(detox, version, metadata)

    @classmethod
    def from_settings(cls, settings: Any) -> DetoxifyScorer:
        """``STET_DETOXIFY_CHECKPOINT`` and ``STET_DETOXIFY_CONFIG_DIR``; a checkpoint file's config
        folder defaults to the folder of the same stem beside it (how Stet saves its own)."""
        checkpoint = settings.detoxify_checkpoint
        config_dir = Path(settings.detoxify_config_dir) if settings.detoxify_config_dir else None
        if config_dir is None and checkpoint not in MODEL_URLS and Path(checkpoint).with_suffix("").is_dir():
            config_dir = Path(checkpoint).with_suffix("")
        return cls.load(checkpoint, config_dir)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return predict_sorted(self.detox, list(texts), self.batch_size)

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """Character spans from the compact linear model (a transformer has no cheap, faithful spans)."""
        if self._linear is None:
            from worker.scorers.linear import LinearToxicityScorer

            self._linear = LinearToxicityScorer.load()
        return self._linear.explain(texts)
