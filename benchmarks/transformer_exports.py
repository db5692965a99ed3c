"""Size against faithfulness for ONNX exports of a Stet transformer: could it fit the 60 MB budget?

For a detoxify-format checkpoint (its config folder beside it, as ``stet model train --task minilm``
writes), exports float32 and five compressed variants and scores the same held-out comments with
each through ONNX Runtime on one thread: size, the largest and 99th-percentile change of a score
against the float32 export (the baseline, in the same run), the share of comments whose every score
moved less than 0.01, and comments per second.

The weight-only variants are ``worker.training.transformer_card``'s (``quantise_weights`` and
``quantise_embeddings``: ONNX Runtime's ``MatMulNBitsQuantizer`` for the matrix products and int8 or
int4 rows for the word-embedding table, half the model); the recipe ships the 8-bit one.

    python -m benchmarks.transformer_exports CHECKPOINT [--rows 1500] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from worker.training.transformer_card import BLOCK, quantise_embeddings, quantise_weights


def variants(fp32: Path, out: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    made = {"float32": fp32}
    for name, per_channel in (("dynamic int8, per tensor", False), ("dynamic int8, per channel", True)):
        made[name] = out / f"dynamic-{int(per_channel)}.onnx"
        quantize_dynamic(str(fp32), str(made[name]), weight_type=QuantType.QInt8, per_channel=per_channel)
    for bits, block, emb in ((8, BLOCK, 8), (4, 32, 8), (8, BLOCK, 4)):
        name = f"{bits}-bit weights (blocks of {block}) + int{emb} word embeddings"
        quantise_weights(fp32, out / "weights.onnx", bits, block)
        made[name] = out / f"w{bits}-{block}-e{emb}.onnx"
        quantise_embeddings(out / "weights.onnx", made[name], emb)
    (out / "weights.onnx").unlink()
    return made


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rows", type=int, default=1500, help="held-out comments scored by every export")
    parser.add_argument("--out", type=Path, default=Path("exports"))
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"  # every export on one thread (OnnxScorer reads it)
    import onnxruntime

    from worker.scorers.ensemble import prepare
    from worker.scorers.onnx_scorer import OnnxScorer
    from worker.training import attribute_data as ad
    from worker.training import data_root
    from worker.training.transformer_card import export_onnx

    rows = [r for r in ad.load(data_root()).rows if r.part == ad.VALIDATION]
    pick = np.random.default_rng(1).choice(len(rows), size=min(args.rows, len(rows)), replace=False)
    texts = [prepare(rows[i].text) for i in pick]
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.out / args.checkpoint.name
    checkpoint.write_bytes(args.checkpoint.read_bytes())
    config_dir = args.checkpoint.with_suffix("")
    card = {"version": "export", "labels": list(ad.ATTRIBUTES), "max_length": 128}
    export_onnx(checkpoint, config_dir, texts[:50])
    print(
        f"{len(texts)} validation comments, ONNX Runtime {onnxruntime.__version__}, one thread",
        file=sys.stderr,
    )
    print("| export | size | largest change of a score | p99 | within 0.01 | comments/s | × float32 |")
    print("|---|---|---|---|---|---|---|")
    baseline, base_rate = None, 0.0
    for name, path in variants(checkpoint.with_suffix(".onnx"), args.out).items():
        scorer = OnnxScorer(path, config_dir, card)  # one thread: OMP_NUM_THREADS, set above
        scorer.score_batch(texts[:32])
        start = time.perf_counter()
        scores = np.array([[s[k] for k in card["labels"]] for s in scorer.score_batch(texts)])
        per_s = len(texts) / (time.perf_counter() - start)
        if baseline is None:
            baseline, base_rate = scores, per_s
        diff = np.abs(scores - baseline)
        print(
            f"| {name} | {path.stat().st_size / 1e6:.1f} MB | {diff.max():.3f} | "
            f"{np.quantile(diff, 0.99):.3f} | {100 * np.mean(diff.max(axis=1) < 0.01):.0f}% | {per_s:.0f} | "
            f"{per_s / base_rate:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
