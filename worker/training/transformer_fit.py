"""Fine-tune MiniLM-L6 for the seven attributes from a *training pack*: the GPU-portable half of the recipe.

``worker/training/transformer.py`` builds the pack on the machine that has the data (every set of
``attribute_data`` as the default scorer sees it: the same texts, splits, labels and per-row
weights, tokenised), and this module trains on it. It needs only numpy, torch, transformers,
scikit-learn and tqdm, not Stet itself, so the same file runs as a script on an accelerator machine
that has the pack and the base weights and nothing else::

    python worker/training/transformer_fit.py PACK BASE OUT_DIR [--epochs 3] [--minutes M] [--layers K]
        [--embedding-bits 8|4]

``BASE`` is the base model's folder, or a *portable base* (``portable_base``: the same weights in
one file small enough to travel beside the pack, the word embeddings in int8 with a scale per row
and the rest in float16). ``--layers K`` keeps the base's bottom K transformer layers: a smaller,
faster student (each layer is about 1.8 M parameters and a sixth of MiniLM-L6's inference time).
``--embedding-bits 8|4`` trains on the word embeddings rounded to what the compact export stores
(int8 per row, or int4 per block of 32) and frozen there: the export then stores them exactly as
trained, and 4 bits halve the largest part of the model (11.7 -> 7.3 MB for MiniLM), which rounded
after training instead moved scores by up to 0.24 (``benchmarks/transformer_exports.py``).

One loss per attribute (binary cross-entropy), masked to the rows whose set labels it and weighted
per row and attribute (source caps, identity re-weighting). Every ``EVAL_EVERY`` of an epoch the
validation rows are scored; the state with the best mean ROC AUC over (source, attribute) pairs is
kept. Training saves its state every ``SAVE_SECONDS`` and at each evaluation, and continues from it
when rerun with the same plan. The output is ``best.pt`` (float16 weights of the best evaluation),
``logits.npy`` (that model's logits for every row of the pack but the training rows, which are
NaN; float16) and ``history.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

TRAIN, VALIDATION = 0, 1  # pack "part" codes; 2 is test and 3 the evaluation-only sets
LEARNING_RATE = 6e-5
WARMUP = 0.06
BATCH = 64
EVAL_EVERY = 0.5  # of an epoch
SAVE_SECONDS = 300
MIN_POSITIVES = 10  # a (source, attribute) pair counts in the validation mean from this many positives


def _half(model: Any) -> dict[str, torch.Tensor]:
    return {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}


EMBEDDING_BLOCK = 32  # values per int4 scale


def quantise_rows(table: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """A table's rows as symmetric integers and their float32 scales: int8 with a scale per row, or
    int4 (held in int8) with one per block of ``EMBEDDING_BLOCK``; a zero row (padding) stays zero.
    Rounding values this gives back (``dequantise``) gives the same integers again."""
    if bits == 8:
        peak = np.abs(table).max(axis=1)
        scale = np.where(peak > 0, peak / 127, 1).astype(np.float32)
        return np.round(table / scale[:, None]).astype(np.int8), scale
    if bits != 4:
        raise ValueError(f"embedding bits are 8 or 4, not {bits}")
    blocks = table.reshape(table.shape[0], -1, EMBEDDING_BLOCK)
    peak = np.abs(blocks).max(axis=2)
    scale = np.where(peak > 0, peak / 7, 1).astype(np.float32)
    return np.clip(np.round(blocks / scale[:, :, None]), -8, 7).astype(np.int8).reshape(table.shape), scale


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    if scale.ndim == 1:
        return q.astype(np.float32) * scale[:, None]
    blocks = q.reshape(q.shape[0], scale.shape[1], -1).astype(np.float32)
    return (blocks * scale[:, :, None]).reshape(q.shape)


def portable_base(base: Path, path: Path, layers: int | None = None) -> Path:
    """Write ``base`` (a BERT folder) as one ``.npz`` for a machine that cannot install it: the config,
    the word embeddings in int8 with a float32 scale per row (they are a third of MiniLM-L6's size;
    the largest change is half a step of 1/127 of the row's largest value) and the rest in float16,
    only the bottom ``layers`` layers when given."""
    config = transformers.AutoConfig.from_pretrained(base)
    if layers:
        config.num_hidden_layers = layers
    model = transformers.BertModel.from_pretrained(base, config=config)
    arrays = {"config": np.array(config.to_json_string())}
    for name, tensor in model.state_dict().items():
        value = tensor.float().numpy()
        if name == "embeddings.word_embeddings.weight":
            arrays[name + ".int8"], arrays[name + ".scale"] = quantise_rows(value, 8)
        else:
            arrays[name] = value.astype(np.float16)
    np.savez(path, **arrays)
    return path


def base_model(base: Path, num_labels: int, layers: int | None = None) -> Any:
    """A sequence classifier on ``base`` (a folder, or a ``portable_base`` file) with ``layers`` layers
    (all when None); the classifier head is new."""
    if base.is_dir():
        extra = {"num_hidden_layers": layers} if layers else {}
        classifier = transformers.BertForSequenceClassification
        return classifier.from_pretrained(base, num_labels=num_labels, **extra)
    with np.load(base, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    config = transformers.BertConfig.from_dict(json.loads(str(arrays.pop("config"))))
    config.num_labels = num_labels
    if layers:
        config.num_hidden_layers = layers
    model = transformers.BertForSequenceClassification(config)
    state = {}
    for name in arrays:
        if name.endswith(".scale"):
            continue
        if name.endswith(".int8"):
            stem = name.removesuffix(".int8")
            state[stem] = torch.from_numpy(dequantise(arrays[name], arrays[stem + ".scale"]))
        else:
            state[name] = torch.from_numpy(arrays[name].astype(np.float32))
    missing, _unused = model.bert.load_state_dict(state, strict=False)  # unused: the layers dropped
    if [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"{base} lacks {missing}")
    return model


def rows_tokens(pack: dict[str, np.ndarray]) -> list[np.ndarray]:
    offsets = pack["offsets"]
    return [pack["ids"][offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def batches(tokens: list[np.ndarray], rows: np.ndarray, size: int, seed: int) -> list[np.ndarray]:
    """Rows in batches of similar length (little padding), in an order that is a function of the seed."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(rows)
    chunk = size * 50
    out = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(tokens[i]))
        out.extend(np.array(part[b : b + size]) for b in range(0, len(part), size))
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def pad(tokens: list[np.ndarray], rows: np.ndarray, where: torch.device) -> dict[str, torch.Tensor]:
    width = max(len(tokens[i]) for i in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    attention = np.zeros_like(ids)
    for r, i in enumerate(rows):
        ids[r, : len(tokens[i])] = tokens[i]
        attention[r, : len(tokens[i])] = 1
    return {
        "input_ids": torch.from_numpy(ids).to(where, non_blocking=True),
        "attention_mask": torch.from_numpy(attention).to(where, non_blocking=True),
    }


@torch.no_grad()
def logits_for(
    model: Any, tokens: list[np.ndarray], rows: np.ndarray, where: torch.device, progress: bool = False
) -> np.ndarray:
    model.eval()
    order = np.asarray(rows)[np.argsort([len(tokens[i]) for i in rows], kind="stable")]
    out = np.zeros((len(tokens), model.config.num_labels), dtype=np.float32)
    size = 512 if where.type == "cuda" else 64
    for start in tqdm(range(0, len(order), size), desc="scoring", disable=not progress, file=sys.stderr):
        part = order[start : start + size]
        with torch.autocast(where.type, dtype=torch.bfloat16, enabled=where.type == "cuda"):
            out[part] = model(**pad(tokens, part, where)).logits.float().cpu().numpy()
    model.train()
    return out


def auc_pairs(
    pack: dict[str, np.ndarray], logits: np.ndarray, rows: np.ndarray, min_positives: int | None = None
) -> list[dict[str, Any]]:
    """ROC AUC per (source, attribute) over ``rows``, for the pairs with at least ``min_positives``
    (default ``MIN_POSITIVES``) rows of each class."""
    least = MIN_POSITIVES if min_positives is None else min_positives
    names, labels = pack["sources"], [str(x) for x in pack["labels"]]
    out = []
    for s in np.unique(pack["source"][rows]):
        these = rows[pack["source"][rows] == s]
        for j, label in enumerate(labels):
            y = pack["y"][these, j]
            keep = y >= 0
            positives = int((y[keep] == 1).sum())
            if positives >= least and keep.sum() - positives >= least:
                auc = float(roc_auc_score(y[keep], logits[these[keep], j]))
                out.append({"source": str(names[s]), "attribute": label, "rows": int(keep.sum()),
                            "positives": positives, "roc_auc": auc})  # fmt: skip
    return out


def validation_auc(pack: dict[str, np.ndarray], logits: np.ndarray) -> tuple[float, dict[str, float]]:
    """Mean ROC AUC over the (source, attribute) pairs of the validation rows with enough of each class."""
    pairs = auc_pairs(pack, logits, np.flatnonzero(pack["part"] == VALIDATION))
    by_pair = {f"{e['source']}/{e['attribute']}": e["roc_auc"] for e in pairs}
    return float(np.mean(list(by_pair.values()))), by_pair


def resume(state_path: Path, plan: dict[str, Any], where: torch.device, *parts: Any) -> dict[str, Any] | None:
    """The state a run with this ``plan`` saved at ``state_path``, loaded into ``parts`` (model,
    optimiser, schedule), or None when there is none; a state from another plan is refused."""
    if not state_path.exists():
        return None
    state: dict[str, Any] = torch.load(state_path, weights_only=True, map_location=where)
    if state["plan"] != plan:
        raise ValueError(f"{state_path} is from a run with {state['plan']}; delete it or use those options")
    for part, key in zip(parts, ("model", "optimizer", "schedule"), strict=False):
        part.load_state_dict(state[key])
    return state


def fit(
    pack_path: Path,
    base: Path,
    out: Path,
    *,
    epochs: float = 3,
    seed: int = 0,
    minutes: float | None = None,
    device: str | None = None,
    layers: int | None = None,
    embedding_bits: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or continue training) and write ``best.pt``, ``logits.npy`` and ``history.json`` to ``out``."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with np.load(pack_path, allow_pickle=False) as npz:
        pack = {k: npz[k] for k in npz.files}
    tokens = rows_tokens(pack)
    labels = [str(x) for x in pack["labels"]]
    where = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    model = base_model(base, len(labels), layers).float()
    if embedding_bits:
        table = model.bert.embeddings.word_embeddings.weight
        table.data = torch.from_numpy(dequantise(*quantise_rows(table.detach().numpy(), embedding_bits)))
        table.requires_grad_(False)
    model = model.to(where)
    train = np.flatnonzero(pack["part"] == TRAIN)
    per_epoch = math.ceil(len(train) / BATCH)
    steps = math.ceil(epochs * per_epoch)  # a fraction: the first batches of a shuffled epoch
    evaluate_every = max(1, int(per_epoch * EVAL_EVERY))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)
    plan = {"epochs": epochs, "batch": BATCH, "seed": seed, "rows": len(train), "lr": LEARNING_RATE}
    if layers:
        plan["layers"] = layers
    if embedding_bits:
        plan["embedding_bits"] = embedding_bits
    state_path = out / "state.pt"
    step, seconds, history, best = 0, 0.0, [], -1.0
    if state := resume(state_path, plan, where, model, optimizer, schedule):
        step, seconds, history, best = state["step"], state["seconds"], state["history"], state["best"]

    y = torch.from_numpy(np.maximum(pack["y"], 0).astype(np.float32))
    weight = torch.from_numpy((pack["w"].astype(np.float32)) * (pack["y"] >= 0))
    deadline = started + minutes * 60 if minutes else float("inf")
    clock = last_save = time.perf_counter()

    def save() -> None:
        nonlocal seconds, clock, last_save
        now = time.perf_counter()
        seconds, clock, last_save = seconds + now - clock, now, now
        state = {
            "plan": plan, "step": step, "seconds": seconds, "history": history, "best": best,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
        }  # fmt: skip
        torch.save(state, out / "state.tmp")
        os.replace(out / "state.tmp", state_path)  # a kill never leaves half a state

    model.train()
    planned: tuple[int, list[np.ndarray]] = (-1, [])
    with tqdm(
        total=steps, initial=step, desc="fine-tuning", unit="step", disable=not progress, file=sys.stderr
    ) as bar:
        while step < steps:  # at least one step per run, so every run makes progress
            epoch, within = divmod(step, per_epoch)
            if planned[0] != epoch:
                planned = (epoch, batches(tokens, train, BATCH, seed + epoch))
            rows = planned[1][within]
            with torch.autocast(where.type, dtype=torch.bfloat16, enabled=where.type == "cuda"):
                logits = model(**pad(tokens, rows, where)).logits.float()
            losses = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y[rows].to(where), reduction="none"
            )
            w = weight[rows].to(where)
            loss = (losses * w).sum() / w.sum().clamp(min=1e-6)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
            if step % evaluate_every == 0 or step == steps:
                val = np.flatnonzero(pack["part"] == VALIDATION)
                mean, pairs = validation_auc(pack, logits_for(model, tokens, val, where))
                history.append(
                    {
                        "step": step,
                        "epoch": round(step / per_epoch, 2),
                        "validation_auc": mean,
                        "pairs": pairs,
                    }
                )
                print(
                    f"step {step} (epoch {step / per_epoch:.2f}): validation mean AUC {mean:.4f}",
                    file=sys.stderr,
                )
                if mean > best:
                    best = mean
                    torch.save(_half(model), out / "best.pt")
                save()
            elif time.perf_counter() - last_save > SAVE_SECONDS:
                save()
            if time.perf_counter() >= deadline:
                break
    save()
    if not (out / "best.pt").exists():  # stopped by --minutes before the first evaluation
        torch.save(_half(model), out / "best.pt")
    model.load_state_dict({k: v.float() for k, v in torch.load(out / "best.pt", map_location=where).items()})
    scored = np.flatnonzero(pack["part"] != TRAIN)  # what the reports read; a fifth of the rows
    logits = logits_for(model, tokens, scored, where, progress)
    logits[pack["part"] == TRAIN] = np.nan
    np.save(out / "logits.npy", logits.astype(np.float16))
    summary = {
        "plan": plan, "steps_done": step, "steps": steps, "device": where.type,
        "gpu": torch.cuda.get_device_name(where) if where.type == "cuda" else None,
        "train_seconds": round(seconds), "wall_seconds": round(time.perf_counter() - started),
        "best_validation_auc": best, "history": history, "labels": labels,
    }  # fmt: skip
    (out / "history.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pack", type=Path)
    parser.add_argument("base", type=Path, help="folder of the base model (config.json + weights)")
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--epochs", type=float, default=3, help="passes over the training rows (a fraction: a random part)"
    )
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=None, help="keep the base's bottom K layers")
    parser.add_argument(
        "--embedding-bits",
        type=int,
        choices=(8, 4),
        help="train on word embeddings rounded to this and frozen",
    )
    args = parser.parse_args(argv)
    summary = fit(
        args.pack,
        args.base,
        args.out,
        epochs=args.epochs,
        seed=args.seed,
        minutes=args.minutes,
        device=args.device,
        layers=args.layers,
        embedding_bits=args.embedding_bits,
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
