"""The seven-attribute fine-tuning loop (``worker/training/transformer_fit.py``) on a tiny BERT and a
synthetic pack: it learns, keeps the best validation state, continues where it stopped, and trains a
smaller student from a portable base."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from worker.training import transformer_fit  # noqa: E402

LABELS = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack", "sexual_explicit")


@pytest.fixture
def tiny_base(tmp_path):
    config = transformers.BertConfig(
        vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=32,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def synthetic_pack(path, rows=240):
    """Token 7 marks toxic rows, token 9 threats; a second source labels toxicity only."""
    rng = np.random.default_rng(0)
    toxic = rng.random(rows) < 0.4
    threat = toxic & (rng.random(rows) < 0.5)
    ids, offsets = [], [0]
    for t, h in zip(toxic, threat, strict=True):
        body = list(rng.integers(10, 40, size=rng.integers(3, 12)))
        body[rng.integers(len(body))] = 7 if t else 8
        if h:
            body.append(9)
        row = [1, *body, 2]
        ids.extend(row)
        offsets.append(len(ids))
    y = np.full((rows, len(LABELS)), -1, dtype=np.int8)
    y[:, 0] = toxic
    source = (np.arange(rows) % 2).astype(np.int16)
    y[source == 0, 3] = threat[source == 0]  # only source 0 labels threats
    part = np.zeros(rows, dtype=np.uint8)
    part[rows * 6 // 10 : rows * 8 // 10] = 1
    part[rows * 8 // 10 :] = 2
    np.savez_compressed(
        path, ids=np.array(ids, dtype=np.uint16), offsets=np.array(offsets, dtype=np.int64), y=y,
        w=np.ones(y.shape, dtype=np.float16), part=part, source=source, sources=np.array(["a", "b"]),
        language=np.array(["en"] * rows), labels=np.array(LABELS),
    )  # fmt: skip
    return y, part


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(transformer_fit, "LEARNING_RATE", 3e-3)
    monkeypatch.setattr(transformer_fit, "BATCH", 16)
    monkeypatch.setattr(transformer_fit, "MIN_POSITIVES", 3)


def test_it_learns_every_labelled_attribute_and_keeps_the_best_state(tmp_path, tiny_base, quick):
    from sklearn.metrics import roc_auc_score

    y, part = synthetic_pack(tmp_path / "pack.npz")
    summary = transformer_fit.fit(
        tmp_path / "pack.npz", tiny_base, tmp_path / "out", epochs=10, device="cpu", progress=False
    )
    logits = np.load(tmp_path / "out" / "logits.npy").astype(np.float32)
    assert logits.shape == (len(y), len(LABELS))
    assert np.isnan(logits[part == 0]).all() and not np.isnan(logits[part != 0]).any()
    test = np.flatnonzero(part == 2)
    assert roc_auc_score(y[test, 0], logits[test, 0]) > 0.9
    threat = test[y[test, 3] >= 0]
    assert roc_auc_score(y[threat, 3], logits[threat, 3]) > 0.9
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    best = max(h["validation_auc"] for h in history["history"])
    assert summary["best_validation_auc"] == pytest.approx(best)
    assert {"a/toxicity", "a/threat", "b/toxicity"} <= set(history["history"][-1]["pairs"])
    weights = torch.load(tmp_path / "out" / "best.pt")
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())


def test_a_stopped_run_continues_where_it_stopped(tmp_path, tiny_base, quick):
    synthetic_pack(tmp_path / "pack.npz")
    out = tmp_path / "out"
    first = transformer_fit.fit(
        tmp_path / "pack.npz", tiny_base, out, epochs=4, minutes=1e-9, device="cpu", progress=False
    )
    assert 0 < first["steps_done"] < first["steps"]
    second = transformer_fit.fit(
        tmp_path / "pack.npz", tiny_base, out, epochs=4, device="cpu", progress=False
    )
    assert second["steps_done"] == second["steps"]
    with pytest.raises(ValueError, match="delete it or use those options"):
        transformer_fit.fit(tmp_path / "pack.npz", tiny_base, out, epochs=5, device="cpu", progress=False)


def test_a_fraction_of_an_epoch_trains_on_that_share_of_the_rows_with_the_schedule_ending_there(
    tmp_path, tiny_base, quick
):
    """``--epochs 0.5``: a CPU-sized run, its learning rate decaying to 0 at its last step."""
    synthetic_pack(tmp_path / "pack.npz")
    summary = transformer_fit.fit(
        tmp_path / "pack.npz", tiny_base, tmp_path / "out", epochs=0.5, device="cpu", progress=False
    )
    per_epoch = -(-144 // transformer_fit.BATCH)  # 144 training rows
    assert summary["steps"] == summary["steps_done"] == -(-per_epoch // 2)
    assert summary["plan"]["epochs"] == 0.5
    state = torch.load(tmp_path / "out" / "state.pt", weights_only=True)
    assert state["schedule"]["_last_lr"] == [0.0]


def test_a_portable_base_carries_the_bottom_layers_and_a_student_learns_from_it(tmp_path, tiny_base, quick):
    from sklearn.metrics import roc_auc_score

    path = transformer_fit.portable_base(tiny_base, tmp_path / "base.npz", layers=1)
    student = transformer_fit.base_model(path, len(LABELS))
    reference = transformers.BertModel.from_pretrained(tiny_base)
    assert student.config.num_hidden_layers == 1 and len(student.bert.encoder.layer) == 1
    mine, theirs = student.bert.state_dict(), reference.state_dict()
    embeddings = "embeddings.word_embeddings.weight"
    row_max = theirs[embeddings].abs().max(dim=1, keepdim=True).values
    assert ((mine[embeddings] - theirs[embeddings]).abs() <= row_max / 254 + 1e-6).all()
    layer = "encoder.layer.0.attention.self.query.weight"
    assert torch.allclose(mine[layer], theirs[layer], atol=1e-3)
    assert "encoder.layer.1.attention.self.query.weight" not in mine

    y, part = synthetic_pack(tmp_path / "pack.npz")
    summary = transformer_fit.fit(
        tmp_path / "pack.npz", path, tmp_path / "out", epochs=10, device="cpu", layers=1, progress=False
    )
    assert summary["plan"]["layers"] == 1
    logits = np.load(tmp_path / "out" / "logits.npy").astype(np.float32)
    test = np.flatnonzero(part == 2)
    assert roc_auc_score(y[test, 0], logits[test, 0]) > 0.9
    weights = torch.load(tmp_path / "out" / "best.pt")
    assert not any(name.startswith("bert.encoder.layer.1.") for name in weights)


def test_a_portable_run_on_another_machine_finishes_here_with_its_report_and_exports(
    tmp_path, tiny_base, quick, monkeypatch
):
    """``--portable`` here, ``transformer_fit.py`` there (only the pack and base.npz), its files
    back, ``--minutes 0`` here: the checkpoint, the exports and the held-out report."""
    import shutil

    from worker.training import transformer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(5, 40))]
    (tiny_base / "vocab.txt").write_text("\n".join(vocab) + "\n")
    transformers.BertTokenizer(str(tiny_base / "vocab.txt")).save_pretrained(tiny_base)
    monkeypatch.setattr(transformer, "base_model_dir", lambda: tiny_base)
    here = tmp_path / "models" / transformer.ATTRIBUTE_STEM
    here.mkdir(parents=True)
    synthetic_pack(here / "pack.npz")

    with pytest.raises(FileNotFoundError, match="holds no finished run"):
        transformer.train_minilm(tmp_path / "data", here.parent, minutes=0, progress=False)
    plan = transformer.train_minilm(
        tmp_path / "data", here.parent, layers=1, embedding_bits=4, portable=True, progress=False
    )
    assert "--layers 1 --embedding-bits 4" in plan["run there"] and not (here / "best.pt").exists()
    there = tmp_path / "gpu"
    options = ["--epochs", "6", "--layers", "1", "--embedding-bits", "4", "--device", "cpu"]
    transformer_fit.main([str(here / "pack.npz"), plan["base"], str(there), *options])
    for path in there.iterdir():
        shutil.copy(path, here)

    card = transformer.train_minilm(tmp_path / "data", here.parent, minutes=0, progress=False)
    assert card["steps_done"] == card["steps"]  # the run's, not a new one
    assert card["plan"]["layers"] == 1 and card["plan"]["embedding_bits"] == 4
    assert {(e["source"], e["attribute"]) for e in card["held_out"]} >= {("a", "toxicity"), ("b", "toxicity")}
    assert card["onnx"]["w8"]["max_abs_diff"] < 0.01  # the int4 embeddings stored exactly as trained
    checkpoint = Path(card["checkpoint"])
    assert checkpoint.with_suffix(".w8.onnx").exists()
    assert json.loads((checkpoint.with_suffix("") / "config.json").read_text())["num_hidden_layers"] == 1


@pytest.mark.parametrize("bits", [8, 4])
def test_embeddings_trained_at_the_export_s_precision_stay_there_and_round_again_to_the_same_integers(
    tmp_path, tiny_base, quick, bits
):
    synthetic_pack(tmp_path / "pack.npz")
    transformer_fit.fit(
        tmp_path / "pack.npz", tiny_base, tmp_path / "out", epochs=2, device="cpu", embedding_bits=bits,
        progress=False,
    )  # fmt: skip
    table = torch.load(tmp_path / "out" / "best.pt")["bert.embeddings.word_embeddings.weight"].float().numpy()
    q, scale = transformer_fit.quantise_rows(table, bits)
    assert np.abs(transformer_fit.dequantise(q, scale) - table).max() < 1e-3 * np.abs(table).max()
    assert q.min() >= -(2 ** (bits - 1)) and q.max() < 2 ** (bits - 1)
    reference = transformers.BertModel.from_pretrained(tiny_base).embeddings.word_embeddings.weight
    again, _ = transformer_fit.quantise_rows(reference.detach().numpy(), bits)
    assert (again == q).all()  # frozen: the base's table on the grid, not trained away from it
