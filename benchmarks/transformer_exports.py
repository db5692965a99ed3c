"""Size against faithfulness for ONNX exports of a Stet transformer: could it fit the 60 MB budget?

For a detoxify-format checkpoint (its config folder beside it, as ``stet model train --task minilm``
writes), exports float32 and five compressed variants and scores the same held-out comments with
each through ONNX Runtime on one thread: size, the largest and 99th-percentile change of a score
against the float32 export (the baseline, in the same run), the share of comments whose every score
moved less than 0.01, and comments per second.

The weight-only variants quantise the matrix products with ONNX Runtime's ``MatMulNBitsQuantizer``
(needs ``onnx-ir``, in the ``transformer`` extra); ONNX Runtime has no weight-only quantiser for the
word-embedding table, so ``_embeddings`` below stores it as int8 or int4 rows with per-row (or
per-block) scales behind a ``DequantizeLinear``: the table is half the model, and
``quantize_dynamic``'s per-tensor int8 is what moves scores most.

    python -m benchmarks.transformer_exports CHECKPOINT [--rows 1500] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BLOCK = 128


def _embeddings(src: Path, dst: Path, bits: int) -> None:
    """Store the word-embedding table of ``src`` as ``bits``-bit integers (symmetric, scale per row
    for 8 bits, per block of 32 for 4) dequantised at load; everything else unchanged."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    for init in list(graph.initializer):
        if "word_embeddings" not in init.name:
            continue
        w = numpy_helper.to_array(init)
        graph.initializer.remove(init)
        if bits == 8:
            scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
            q = np.round(w / scale[:, None]).astype(np.int8)
            graph.initializer.extend([numpy_helper.from_array(q, f"{init.name}_q")])
            attributes = {"axis": 0}
        else:
            blocks = w.reshape(w.shape[0], -1, 32)
            scale = (np.abs(blocks).max(axis=2) / 7).astype(np.float32)
            q = np.clip(np.round(blocks / scale[:, :, None]), -8, 7).astype(np.int8).reshape(w.shape)
            graph.initializer.extend(
                [helper.make_tensor(f"{init.name}_q", TensorProto.INT4, list(w.shape), q.flatten().tolist())]
            )
            attributes = {"axis": 1, "block_size": 32}
            for opset in model.opset_import:
                if opset.domain in ("", "ai.onnx"):
                    opset.version = max(opset.version, 21)  # blocked int4 DequantizeLinear
        graph.initializer.extend([numpy_helper.from_array(scale, f"{init.name}_s")])
        node = helper.make_node(
            "DequantizeLinear", [f"{init.name}_q", f"{init.name}_s"], [init.name], **attributes
        )
        graph.node.insert(0, node)
    onnx.save(model, str(dst))


def _weights(src: Path, dst: Path, bits: int, block: int) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), bits=bits, block_size=block, accuracy_level=0)
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), False)


def variants(fp32: Path, out: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    made = {"float32": fp32}
    for name, per_channel in (("dynamic int8, per tensor", False), ("dynamic int8, per channel", True)):
        made[name] = out / f"dynamic-{int(per_channel)}.onnx"
        quantize_dynamic(str(fp32), str(made[name]), weight_type=QuantType.QInt8, per_channel=per_channel)
    for bits, block, emb in ((8, BLOCK, 8), (4, 32, 8), (8, BLOCK, 4)):
        name = f"{bits}-bit weights (blocks of {block}) + int{emb} word embeddings"
        _weights(fp32, out / "weights.onnx", bits, block)
        made[name] = out / f"w{bits}-{block}-e{emb}.onnx"
        _embeddings(out / "weights.onnx", made[name], emb)
    (out / "weights.onnx").unlink()
    return made


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rows", type=int, default=1500, help="held-out comments scored by every export")
    parser.add_argument("--out", type=Path, default=Path("exports"))
    args = parser.parse_args(argv)
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
        scorer = OnnxScorer(path, config_dir, card)
        scorer.session = onnxruntime.InferenceSession(
            str(path), _one_thread(onnxruntime), providers=["CPUExecutionProvider"]
        )
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


def _one_thread(onnxruntime: object) -> object:
    options = onnxruntime.SessionOptions()  # type: ignore[attr-defined]
    options.intra_op_num_threads = 1
    return options


if __name__ == "__main__":
    sys.exit(main())
