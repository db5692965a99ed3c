"""A Stet transformer run by ONNX Runtime, without torch, transformers or detoxify.

``stet model train --task minilm`` (and ``--task transformer``) exports ``<stem>.onnx`` (float32)
and ``<stem>.w8.onnx`` (8-bit weights and word embeddings, a quarter of the size) beside the
detoxify checkpoint and measures both against torch in the model card.
``STET_DETOXIFY_RUNTIME=onnx`` runs the float32 export, ``onnx-w8`` the compact one. This scorer
needs only ``onnxruntime`` and ``tokenizers`` (in every install), reads the tokenizer
from the checkpoint's config folder and the labels and ``max_length`` from its model card
(``<stem>.json``). Its version is the checkpoint's plus ``+onnx`` (``+onnx-w8``), so its scores are
stored apart from the torch path's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from worker.scorers import ENGLISH, padded_runs
from worker.scorers.linear import MODELS_DIR

BATCH_SIZE = 32
# The seven-attribute MiniLM the default ``blend`` runs: its compact export, tokenizer and card ship
# in the package (``stet model train --task minilm --layers 4 --embedding-bits 4``; README).
SHIPPED = MODELS_DIR / "minilm-attributes-2"


def session_options() -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    # ONNX Runtime ignores OMP_NUM_THREADS: take the share `stet worker` gave this process.
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    # Fold the compact export's constant DequantizeLinear nodes into float32 weights at load (by
    # default ONNX Runtime keeps them to fuse into quantised kernels, which here dequantise on every
    # call: ~25 ms for the int4 word-embedding table and ~11 ms for the 8-bit matrices, however few
    # the comments). The scores are the same; a process holds ~80 MB of float32 weights instead.
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    return options


class OnnxScorer:
    name = "detoxify"
    languages = reads = ENGLISH  # trained and measured on English comments

    def __init__(self, model_path: Path, config_dir: Path, card: dict[str, Any]) -> None:
        self.labels: tuple[str, ...] = tuple(card["labels"])  # in the model's output order
        self.version = f"{card['version']}+onnx" + ("-w8" if model_path.name.endswith(".w8.onnx") else "")
        self.tokenizer = Tokenizer.from_file(str(config_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(card.get("max_length", 512)))
        self.tokenizer.no_padding()  # a saved tokenizer.json may pad to a fixed length; batches pad here
        self.session = onnxruntime.InferenceSession(
            str(model_path), session_options(), providers=["CPUExecutionProvider"]
        )
        self.batch_size = BATCH_SIZE
        self._linear: Any = None

    @classmethod
    def from_settings(cls, settings: Any) -> OnnxScorer:
        """``<checkpoint stem>.onnx`` (``.w8.onnx`` for the ``onnx-w8`` runtime), the ``<stem>/`` config
        folder and the ``<stem>.json`` card."""
        checkpoint = Path(settings.detoxify_checkpoint)
        config_dir = Path(settings.detoxify_config_dir or checkpoint.with_suffix(""))
        card = json.loads(checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
        suffix = ".w8.onnx" if settings.detoxify_runtime == "onnx-w8" else ".onnx"
        return cls(checkpoint.with_suffix(suffix), config_dir, card)

    @classmethod
    def shipped(cls) -> OnnxScorer:
        """The MiniLM inside the package: ``<stem>.w8.onnx``, ``<stem>/tokenizer.json``, ``<stem>.json``."""
        card = json.loads(SHIPPED.with_suffix(".json").read_text(encoding="utf-8"))
        return cls(SHIPPED.with_suffix(".w8.onnx"), SHIPPED, card)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        results: list[dict[str, float]] = [{} for _ in texts]
        encoded = self.tokenizer.encode_batch(list(texts))
        for rows in padded_runs([len(e.ids) for e in encoded], self.batch_size):
            width = len(encoded[rows[-1]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i].ids)] = encoded[i].ids
                mask[r, : len(encoded[i].ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (logits,) = self.session.run(["logits"], feed)
            for i, row in zip(rows, 1.0 / (1.0 + np.exp(-logits)), strict=True):
                results[i] = dict(zip(self.labels, map(float, row), strict=True))
        return results

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """Character spans from the compact linear model, as for the torch path."""
        if self._linear is None:
            from worker.scorers.linear import LinearToxicityScorer

            self._linear = LinearToxicityScorer.load()
        return self._linear.explain(texts)
