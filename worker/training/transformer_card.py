"""The fine-tuned MiniLM's model card: held-out metrics through detoxify, the cascade band chosen
and checked on separate halves of the test part, and the ONNX exports (``worker/training/transformer.py``
trains the checkpoint)."""

from __future__ import annotations

import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from worker import training
from worker.scorers.cascade import CascadeScorer, choose_band, decisions
from worker.scorers.detoxify_scorer import DetoxifyScorer
from worker.scorers.linear import LinearToxicityScorer
from worker.training.transformer import EVAL_ROWS, LABELS, ONNX_ROWS, SPEED_ROWS


def evaluate(
    checkpoint: Path, config_dir: Path, data: dict[str, Any], progress: bool = True
) -> dict[str, Any]:
    """The model card: the checkpoint's metadata, held-out metrics, the cascade band, the ONNX export."""
    stet = torch.load(checkpoint, weights_only=True)["stet"]
    card = {**stet, "labels": list(LABELS), "created": datetime.now(UTC).strftime("%Y-%m-%d")}
    card.update(evaluate_transformer(checkpoint, config_dir, data, progress))
    card["cascade"] = cascade_report(checkpoint, config_dir, data)
    sample = np.random.default_rng(2).choice(data["test"], size=ONNX_ROWS, replace=False)
    card["onnx"] = export_onnx(checkpoint, config_dir, [data["texts"][i] for i in sample])
    return card


def evaluate_transformer(
    checkpoint: Path, config_dir: Path, data: dict[str, Any], progress: bool = True
) -> dict[str, Any]:
    """Held-out AUCs and throughput, loaded through detoxify offline.

    Also writes ``<stem>.scores.npz``: the toxicity scores of seeded samples of the report and the
    band half, from which ``cascade_report`` chooses and checks the cascade band.
    """
    scorer = DetoxifyScorer.load(checkpoint, config_dir)
    texts, y = data["texts"], data["y"]
    rng = np.random.default_rng(0)
    test = np.sort(rng.choice(data["test"], size=min(EVAL_ROWS, len(data["test"])), replace=False))
    val = np.sort(rng.choice(data["val"], size=min(EVAL_ROWS, len(data["val"])), replace=False))
    start = time.perf_counter()
    p_test = _toxicity(scorer, [texts[i] for i in test], progress, "report half")
    per_second = len(test) / (time.perf_counter() - start)
    p_val = _toxicity(scorer, [texts[i] for i in val], progress, "band half")
    np.savez_compressed(checkpoint.with_suffix(".scores.npz"), test=test, p_test=p_test, val=val, p_val=p_val)
    sub_rows = data["sub_test"]
    sub_scores = _score(scorer, [data["sub_texts"][i] for i in sub_rows], progress, "subset test")
    per_label = {}
    for j, label in enumerate(LABELS):
        truth = data["sub_y"][sub_rows, j]
        p = np.array([s[label] for s in sub_scores])
        per_label[label] = {
            "roc_auc": float(roc_auc_score(truth, p)) if 0 < truth.sum() < len(truth) else None,
            "n": len(truth),
            "positives": int(truth.sum()),
        }
    return {
        "held_out": {
            "toxicity_jigsaw_binary_test_sample": training.classification_metrics(y[test], p_test),
            "per_label_jigsaw_subset_test": per_label,
            "comments_per_s": round(per_second, 1),
        }
    }


def cascade_report(checkpoint: Path, config_dir: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Choose the cascade band on the band-half sample; check it and time it on the report-half sample.

    Agreement is with the transformer-only decisions at the default thresholds. Speed compares the
    cascade (batches of 256) with the naive detoxify loop, ``Detoxify.predict(text)`` per comment.
    """
    from service.config import Settings

    settings = Settings()
    scores = np.load(checkpoint.with_suffix(".scores.npz"))
    texts, y = data["texts"], data["y"]
    linear = LinearToxicityScorer.load()
    band = choose_band(
        linear.predict_proba([texts[i] for i in scores["val"]]),
        scores["p_val"],
        settings.approve_below,
        settings.reject_above,
    )
    l_test = linear.predict_proba([texts[i] for i in scores["test"]])
    routed = (l_test >= band["low"]) & (l_test < band["high"])
    p_cascade = np.where(routed, scores["p_test"], l_test)
    cut = (settings.approve_below, settings.reject_above)
    truth = y[scores["test"]]
    transformer = DetoxifyScorer.load(checkpoint, config_dir)
    cascade = CascadeScorer(linear, transformer, band["low"], band["high"])
    timed = [
        texts[i] for i in np.random.default_rng(1).choice(scores["test"], size=SPEED_ROWS, replace=False)
    ]
    start = time.perf_counter()
    for text in timed:
        transformer.detox.predict(text)
    naive = SPEED_ROWS / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, SPEED_ROWS, 256):
        cascade.score_batch(timed[i : i + 256])
    fast = SPEED_ROWS / (time.perf_counter() - start)
    return {
        "linear_version": linear.version,
        **band,
        "band_rows": len(scores["val"]),
        "test_sample": {
            "rows": len(truth),
            "routed_share": float(routed.mean()),
            "agreement_with_transformer": float(
                np.mean(decisions(p_cascade, *cut) == decisions(scores["p_test"], *cut))
            ),
            "roc_auc": {
                "linear": float(roc_auc_score(truth, l_test)),
                "transformer": float(roc_auc_score(truth, scores["p_test"])),
                "cascade": float(roc_auc_score(truth, p_cascade)),
            },
        },
        "speed": {
            "rows": SPEED_ROWS,
            "naive_detoxify_loop_per_s": round(naive, 1),
            "cascade_per_s": round(fast, 1),
            "speed_up": round(fast / naive, 2),
        },
    }


BLOCK = 128  # weights per quantisation block of a matrix product


def quantise_embeddings(src: Path, dst: Path, bits: int = 8) -> None:
    """Store the word-embedding table of ``src`` as ``bits``-bit integers and the position table as
    int8 (``transformer_fit.quantise_rows``: a scale per row, or per block of 32 for 4 bits),
    dequantised at load; everything else unchanged. A model trained with ``--embedding-bits`` has
    its table already on that grid, so this stores it exactly."""
    import ml_dtypes  # onnx's own dependency
    import onnx
    from onnx import helper, numpy_helper

    from worker.training.transformer_fit import EMBEDDING_BLOCK, quantise_rows

    model = onnx.load(str(src))
    graph = model.graph
    for init in list(graph.initializer):
        if init.name.endswith("word_embeddings.weight"):
            width = bits
        elif init.name.endswith("position_embeddings.weight"):
            width = 8
        else:
            continue
        q, scale = quantise_rows(numpy_helper.to_array(init), width)
        graph.initializer.remove(init)
        if width == 8:
            graph.initializer.extend([numpy_helper.from_array(q, f"{init.name}_q")])
            attributes = {"axis": 0}
        else:
            packed = numpy_helper.from_array(q.astype(ml_dtypes.int4), f"{init.name}_q")  # 2 per byte
            graph.initializer.extend([packed])
            attributes = {"axis": 1, "block_size": EMBEDDING_BLOCK}
            for opset in model.opset_import:
                if opset.domain in ("", "ai.onnx"):
                    opset.version = max(opset.version, 21)  # blocked int4 DequantizeLinear
        graph.initializer.extend([numpy_helper.from_array(scale, f"{init.name}_s")])
        node = helper.make_node(
            "DequantizeLinear", [f"{init.name}_q", f"{init.name}_s"], [init.name], **attributes
        )
        graph.node.insert(0, node)
    onnx.save(model, str(dst))


def _splice(graph: Any, index: int, node: Any, replacement: list[Any]) -> None:
    """Put ``replacement`` where ``node`` (at ``index``) was, keeping the graph's topological order."""
    graph.node.remove(node)
    for offset, new in enumerate(replacement):
        graph.node.insert(index + offset, new)


def _drop_unused_initializers(graph: Any) -> None:
    used = {name for node in graph.node for name in node.input}
    for init in [init for init in graph.initializer if init.name not in used]:
        graph.initializer.remove(init)


def _gemm_as_matmul(model: Any) -> None:
    """Rewrite each ``Gemm`` with a constant weight (the pooler and the classifier, which the exporter
    writes as Gemm) as MatMul + Add, the form ``MatMulNBits`` quantises."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    for index, node in reversed(list(enumerate(graph.node))):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Gemm" or node.input[1] not in weights or attrs.get("transA", 0):
            continue
        if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            continue
        w = numpy_helper.to_array(weights[node.input[1]])
        if attrs.get("transB", 0):
            w = w.T
        name = f"{node.input[1]}_matmul"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w), name))
        product = f"{node.output[0]}_product"
        replacement = [
            helper.make_node(
                "MatMul", [node.input[0], name], [product if len(node.input) > 2 else node.output[0]]
            )
        ]
        if len(node.input) > 2:
            replacement.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]]))
        _splice(graph, index, node, replacement)
    _drop_unused_initializers(graph)


def _unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """``count`` unsigned ``bits``-bit values per row of ``packed`` (two per byte, low nibble first)."""
    if bits == 8:
        return packed.reshape(packed.shape[0], -1)[:, :count]
    rows = packed.reshape(packed.shape[0], -1)
    return np.stack([rows & 0x0F, rows >> 4], axis=-1).reshape(rows.shape[0], -1)[:, :count]


def _nbits_as_dequantize(model: Any) -> None:
    """Rewrite each ``MatMulNBits`` as ``DequantizeLinear`` (the same integers, scales and zero points,
    blocked along K) feeding a plain ``MatMul``.

    ONNX Runtime's ``MatMulNBits`` on a CPU without VNNI dequantises its weights on every call: for
    the 4-layer MiniLM about 11 ms per call whatever the batch, most of the work of scoring one short
    comment, which is how the worker scores. A ``DequantizeLinear`` of a constant is folded into a
    float32 weight once, when the session loads (``OnnxScorer`` allows it), so the file stays as small
    and the scores are the same, and a call costs only its arithmetic."""
    import ml_dtypes  # onnx's own dependency
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    for index, node in reversed(list(enumerate(graph.node))):
        if node.op_type != "MatMulNBits":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        k, n, bits, block = attrs["K"], attrs["N"], attrs["bits"], attrs["block_size"]
        blocks = -(-k // block)
        values = _unpack(numpy_helper.to_array(weights[node.input[1]]), bits, blocks * block)[:, :k]
        scales = numpy_helper.to_array(weights[node.input[2]]).reshape(n, blocks)
        if len(node.input) > 3 and node.input[3]:
            zero = _unpack(numpy_helper.to_array(weights[node.input[3]]), bits, blocks)
        else:
            zero = np.full((n, blocks), 1 << (bits - 1), dtype=np.uint8)
        dtype = np.uint8 if bits == 8 else ml_dtypes.uint4
        stem = node.input[1]
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.ascontiguousarray(values.T).astype(dtype), f"{stem}_w"),
                numpy_helper.from_array(np.ascontiguousarray(scales.T), f"{stem}_ws"),
                numpy_helper.from_array(np.ascontiguousarray(zero.T).astype(dtype), f"{stem}_wz"),
            ]
        )
        bias = node.input[5] if len(node.input) > 5 and node.input[5] else None
        product = f"{node.output[0]}_product" if bias else node.output[0]
        replacement = [
            helper.make_node(
                "DequantizeLinear",
                [f"{stem}_w", f"{stem}_ws", f"{stem}_wz"],
                [f"{stem}_dq"],
                axis=0,
                block_size=block,
            ),
            helper.make_node("MatMul", [node.input[0], f"{stem}_dq"], [product]),
        ]
        if bias:
            replacement.append(helper.make_node("Add", [product, bias], [node.output[0]]))
        _splice(graph, index, node, replacement)
    _drop_unused_initializers(graph)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, 21)  # blocked DequantizeLinear
    if not any(node.domain == "com.microsoft" for node in graph.node):
        kept = [o for o in model.opset_import if o.domain != "com.microsoft"]
        del model.opset_import[:]
        model.opset_import.extend(kept)


def quantise_weights(src: Path, dst: Path, bits: int = 8, block: int = BLOCK) -> None:
    """Quantise the matrix products of ``src`` to ``bits``-bit weights in blocks (ONNX Runtime's
    ``MatMulNBitsQuantizer``, needs ``onnx-ir``), stored as ``DequantizeLinear`` + ``MatMul``
    (``_nbits_as_dequantize``); activations stay float32, unlike ``quantize_dynamic``."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(src))
    _gemm_as_matmul(model)
    quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=block, accuracy_level=0)
    quantizer.process()
    model = quantizer.model.model
    _nbits_as_dequantize(model)
    onnx.save(model, str(dst))


def export_onnx(
    checkpoint: Path, config_dir: Path, texts: list[str], embedding_bits: int = 8
) -> dict[str, Any]:
    """Write ``<stem>.onnx`` (float32) and ``<stem>.w8.onnx`` (8-bit weights, word embeddings in
    ``embedding_bits``: a quarter of the size or less) and compare both with torch on ``texts``.

    Not ``quantize_dynamic``'s int8, which also quantises the activations: on the seven-attribute
    MiniLM it moved scores by up to 0.41, the 8-bit weights by 0.023 (``benchmarks/transformer_exports.py``).
    """
    from worker.scorers.onnx_scorer import OnnxScorer

    torch_scorer = DetoxifyScorer.load(checkpoint, config_dir)
    model = torch_scorer.detox.model.eval()
    model.config.return_dict = False
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch_scorer.detox.tokenizer(texts[:2], padding=True, truncation=True, return_tensors="pt")
    fp32 = checkpoint.with_suffix(".onnx")
    compact = checkpoint.with_suffix(".w8.onnx")
    with warnings.catch_warnings():
        # The legacy exporter's deprecation and tracer notes; the result is checked against torch below.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(example[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, dynamic axes supported
        )
    quantise_weights(fp32, compact)
    quantise_embeddings(compact, compact, embedding_bits)
    card = {
        "version": torch_scorer.version,
        "labels": torch_scorer.labels,
        "max_length": torch_scorer.detox.tokenizer.model_max_length,
    }
    start = time.perf_counter()
    want = torch_scorer.score_batch(texts)
    report: dict[str, Any] = {
        "rows": len(texts),
        "torch_per_s": round(len(texts) / (time.perf_counter() - start), 1),
    }
    for path in (fp32, compact):
        start = time.perf_counter()
        got = OnnxScorer(path, config_dir, card).score_batch(texts)
        seconds = time.perf_counter() - start
        diff = np.array([[abs(g[k] - w[k]) for k in w] for g, w in zip(got, want, strict=True)])
        report["w8" if path == compact else "fp32"] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "max_abs_diff": float(diff.max()),
            "p99_abs_diff": float(np.quantile(diff, 0.99)),
            "within_0_01": float(np.mean(diff.max(axis=1) <= 0.01)),
            "per_s": round(len(texts) / seconds, 1),
        }
    return report


def _toxicity(scorer: DetoxifyScorer, texts: list[str], progress: bool, desc: str) -> np.ndarray:
    return np.array([s["toxicity"] for s in _score(scorer, texts, progress, desc)])


def _score(scorer: DetoxifyScorer, texts: list[str], progress: bool, desc: str) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    chunk = 512
    for start in tqdm(
        range(0, len(texts), chunk), desc=desc, unit="chunk", disable=not progress, file=sys.stderr
    ):
        out.extend(scorer.score_batch(texts[start : start + chunk]))
    return out
