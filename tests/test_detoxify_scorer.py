"""The detoxify scorer loads a detoxify-format checkpoint fully offline and scores through detoxify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXTRA = "needs the transformer extra: pip install -e '.[transformer]'"
torch = pytest.importorskip("torch", reason=EXTRA)
transformers = pytest.importorskip("transformers", reason=EXTRA)
detoxify = pytest.importorskip("detoxify", reason=EXTRA)

from worker.scorers.detoxify_scorer import DetoxifyScorer, save_checkpoint  # noqa: E402

CLASSES = ["toxic", "severe_toxic", "identity_hate"]  # Jigsaw names, as in detoxify's own checkpoints
WORDS = ["you", "are", "an", "idiot", "thanks", "for", "the", "article", "gay", "man", "as", "a"]
TEXTS = ["Thanks for the article", "you are an idiot", "As a gay man", "", "idiot " * 300, "thanks"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """A randomly initialised two-layer BERT saved as a detoxify checkpoint, with its config folder."""
    root = tmp_path_factory.mktemp("tiny")
    config_dir = root / "tiny-bert"
    config_dir.mkdir()
    vocab = config_dir / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    transformers.BertTokenizer(str(vocab)).save_pretrained(config_dir)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(CLASSES),
    )
    model = transformers.BertForSequenceClassification(config)
    torch.nn.init.normal_(model.classifier.weight, std=3.0)  # spread the scores so texts differ
    config.save_pretrained(config_dir)
    checkpoint = root / "tiny.ckpt"
    save_checkpoint(
        checkpoint,
        model,
        CLASSES,
        model_type="no-such-org/no-such-model",  # a hub name that must never be looked up
        tokenizer_name="BertTokenizer",
        stet={"version": "tiny-1", "max_length": 32},
    )
    return checkpoint, config_dir, model


def expected_scores(model: object, config_dir: Path, texts: list[str]) -> list[list[float]]:
    """What the model itself says, computed with transformers directly (float16 weights, as saved)."""
    model = model.half().float().eval()  # type: ignore[attr-defined]
    tokenizer = transformers.BertTokenizer.from_pretrained(config_dir)
    with torch.no_grad():
        rows = []
        for text in texts:
            batch = tokenizer([text], truncation=True, max_length=32, return_tensors="pt")
            rows.append(torch.sigmoid(model(**batch).logits)[0].tolist())
    return rows


def test_offline_checkpoint_loads_in_a_fresh_process_without_network(tiny, tmp_path: Path) -> None:
    checkpoint, config_dir, model = tiny
    code = (
        "import json, socket, sys\n"
        "def refuse(*args, **kwargs): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from worker.scorers import load_scorer\n"
        "scorer = load_scorer('detoxify')\n"
        "print(json.dumps({'labels': scorer.labels, 'version': scorer.version,"
        " 'scores': scorer.score_batch(json.loads(sys.argv[1]))}))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-cache"),
        "TORCH_HOME": str(tmp_path / "empty-torch-cache"),
        "STET_DETOXIFY_CHECKPOINT": str(checkpoint),
        "STET_DETOXIFY_CONFIG_DIR": str(config_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEXTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["labels"] == ["toxicity", "severe_toxicity", "identity_attack"]  # detoxify's names
    assert out["version"] == "tiny-1"
    expected = expected_scores(model, config_dir, TEXTS)
    for got, want in zip(out["scores"], expected, strict=True):
        assert list(got.values()) == pytest.approx(want, abs=1e-4)
    assert len({round(s["toxicity"], 4) for s in out["scores"]}) > 2  # a real model, not a constant


def test_scores_come_from_detoxify_predict_in_runs_of_similar_length(tiny, monkeypatch) -> None:
    checkpoint, config_dir, model = tiny
    scorer = DetoxifyScorer.load(checkpoint, config_dir)
    assert isinstance(scorer.detox, detoxify.Detoxify)
    batches: list[list[str]] = []
    predict = detoxify.Detoxify.predict

    def recording_predict(self, text):  # type: ignore[no-untyped-def]
        batches.append(list(text))
        return predict(self, text)

    monkeypatch.setattr(detoxify.Detoxify, "predict", recording_predict)
    scorer.batch_size = 4
    texts = TEXTS * 2
    scores = scorer.score_batch(texts)
    tokens = [[len(ids) for ids in scorer.detox.tokenizer(b, truncation=True)["input_ids"]] for b in batches]
    assert sum(map(len, batches)) == len(texts) and max(map(len, batches)) == 4
    flat = [n for b in tokens for n in b]
    assert flat == sorted(flat)  # shortest first
    for b in tokens:  # padded to its longest, a run reads at most a quarter more tokens than it holds
        assert len(b) * max(b) <= 1.25 * sum(b)
    assert len(batches) > 3  # the two 300-word texts run apart from the short ones
    one_by_one = [predict(scorer.detox, text) for text in texts]  # detoxify's naive way
    for got, want in zip(scores, one_by_one, strict=True):
        assert got == pytest.approx(want, abs=1e-4)


def test_checkpoint_without_stet_metadata_gets_a_file_version(tiny, tmp_path: Path) -> None:
    checkpoint, config_dir, _model = tiny
    loaded = torch.load(checkpoint, weights_only=True)
    del loaded["stet"]
    foreign = tmp_path / "foreign.ckpt"
    torch.save(loaded, foreign)
    scorer = DetoxifyScorer.load(foreign, config_dir)
    assert scorer.version.startswith("foreign-") and len(scorer.version) == len("foreign-") + 8
    assert scorer.detox.tokenizer.model_max_length != 32  # no Stet metadata: the tokenizer's own length


def test_a_file_that_is_not_a_detoxify_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a detoxify checkpoint"):
        DetoxifyScorer.load(path, tmp_path)


def test_onnx_exports_score_like_torch_without_torch_in_the_scorer(tiny, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason=EXTRA)
    from worker.scorers.onnx_scorer import OnnxScorer
    from worker.training.transformer_card import export_onnx

    checkpoint, config_dir, _model = tiny
    copy = tmp_path / "tiny.ckpt"
    copy.write_bytes(checkpoint.read_bytes())
    report = export_onnx(copy, config_dir, TEXTS)
    assert (report["fp32"]["file"], report["w8"]["file"]) == ("tiny.onnx", "tiny.w8.onnx")
    card = {
        "version": "tiny-1",
        "labels": ["toxicity", "severe_toxicity", "identity_attack"],
        "max_length": 32,
    }
    want = DetoxifyScorer.load(copy, config_dir).score_batch(TEXTS)
    for name, tolerance in (("tiny.onnx", 1e-4), ("tiny.w8.onnx", 0.01)):
        scorer = OnnxScorer(tmp_path / name, config_dir, card)
        got = scorer.score_batch(TEXTS)
        diff = max(abs(g[k] - w[k]) for g, w in zip(got, want, strict=True) for k in w)
        assert diff < tolerance  # float32: the same model; 8-bit weights: close, not equal
    assert scorer.version == "tiny-1+onnx-w8"
    assert diff == pytest.approx(report["w8"]["max_abs_diff"], abs=1e-6)


def test_onnx_scores_like_torch_when_the_saved_tokenizer_pads_to_a_fixed_length(tiny, tmp_path: Path) -> None:
    """all-MiniLM-L6-v2's tokenizer.json pads every text to 128 tokens; the ONNX scorer must not
    attend to that padding (it once did, moving scores by up to 0.67)."""
    pytest.importorskip("onnxruntime", reason=EXTRA)
    import shutil

    from worker.scorers.onnx_scorer import OnnxScorer
    from worker.training.transformer_card import export_onnx

    checkpoint, config_dir, _model = tiny
    padded = tmp_path / "padded"
    shutil.copytree(config_dir, padded)
    spec = json.loads((padded / "tokenizer.json").read_text())
    spec["padding"] = {
        "strategy": {"Fixed": 32}, "direction": "Right", "pad_to_multiple_of": None,
        "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]",
    }  # fmt: skip
    (padded / "tokenizer.json").write_text(json.dumps(spec))
    copy = tmp_path / "tiny.ckpt"
    copy.write_bytes(checkpoint.read_bytes())
    export_onnx(copy, config_dir, TEXTS[:2])
    labels = ["toxicity", "severe_toxicity", "identity_attack"]
    card = {"version": "tiny-1", "labels": labels, "max_length": 32}
    got = OnnxScorer(tmp_path / "tiny.onnx", padded, card).score_batch(TEXTS)
    want = DetoxifyScorer.load(copy, config_dir).score_batch(TEXTS)
    assert max(abs(g[k] - w[k]) for g, w in zip(got, want, strict=True) for k in w) < 1e-4


def _ops_once_loaded(path: Path, tmp_path: Path) -> set[str]:
    """The operators left in ``path`` after ONNX Runtime has optimised it as ``OnnxScorer`` loads it."""
    import onnx
    import onnxruntime

    from worker.scorers.onnx_scorer import session_options

    options = session_options()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return {node.op_type for node in onnx.load(str(tmp_path / "optimised.onnx")).graph.node}


@pytest.mark.parametrize("bits", [8, 4])
def test_weight_only_exports_score_as_onnx_runtimes_quantiser_and_dequantise_once(
    tiny, tmp_path: Path, bits: int
) -> None:
    """The compact export keeps ``MatMulNBitsQuantizer``'s integers but as DequantizeLinear + MatMul,
    which the scorer's session folds into float weights when it loads: the same scores, and no
    dequantisation left to redo on every call (which cost ~36 ms per call on the shipped MiniLM)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    from worker.scorers.onnx_scorer import OnnxScorer
    from worker.training.transformer_card import _gemm_as_matmul, export_onnx, quantise_weights

    checkpoint, config_dir, _model = tiny
    copy = tmp_path / "tiny.ckpt"
    copy.write_bytes(checkpoint.read_bytes())
    export_onnx(copy, config_dir, TEXTS[:2])
    reference = onnx.load(str(tmp_path / "tiny.onnx"))
    _gemm_as_matmul(reference)
    quantizer = MatMulNBitsQuantizer(reference, bits=bits, block_size=16, accuracy_level=0)
    quantizer.process()
    quantizer.model.save_model_to_file(str(tmp_path / "nbits.onnx"), False)
    quantise_weights(tmp_path / "tiny.onnx", tmp_path / "compact.onnx", bits, 16)
    labels = ["toxicity", "severe_toxicity", "identity_attack"]
    card = {"version": "tiny-1", "labels": labels, "max_length": 32}
    want = OnnxScorer(tmp_path / "nbits.onnx", config_dir, card).score_batch(TEXTS)
    got = OnnxScorer(tmp_path / "compact.onnx", config_dir, card).score_batch(TEXTS)
    assert max(abs(g[k] - w[k]) for g, w in zip(got, want, strict=True) for k in w) < 1e-6
    assert "MatMulNBits" in _ops_once_loaded(tmp_path / "nbits.onnx", tmp_path)
    ops = _ops_once_loaded(tmp_path / "compact.onnx", tmp_path)
    assert "MatMul" in ops and not ops & {"DequantizeLinear", "MatMulNBits"}


def test_the_shipped_minilm_is_dequantised_once_when_it_loads(tmp_path: Path) -> None:
    from worker.scorers.onnx_scorer import SHIPPED

    ops = _ops_once_loaded(SHIPPED.with_suffix(".w8.onnx"), tmp_path)
    assert "MatMul" in ops and not ops & {"DequantizeLinear", "MatMulNBits"}


def test_blend_is_the_mean_of_the_ensemble_and_the_transformer_in_log_odds(tiny, monkeypatch) -> None:
    """STET_SCORERS=blend: attributes both models give are averaged in log-odds; the others, the
    spans and the validated languages are the ensemble's."""
    from worker.scorers import load_scorer
    from worker.scorers.ensemble import EnsembleScorer

    checkpoint, config_dir, _model = tiny
    monkeypatch.setenv("STET_DETOXIFY_CHECKPOINT", str(checkpoint))
    monkeypatch.setenv("STET_DETOXIFY_CONFIG_DIR", str(config_dir))
    blend = load_scorer("blend")
    ensemble, transformer = EnsembleScorer.load(), DetoxifyScorer.load(checkpoint, config_dir)
    texts = ["Thanks for the article", "you are an idiot", "As a gay man, thanks", "@ed42 you are an idiot"]
    got, ours, theirs = blend.score_batch(texts), ensemble.score_batch(texts), transformer.score_batch(texts)
    # Both read the text as they were trained on it: a mention (or a link) changes nothing.
    # (Equal to float rounding: where in a batch a text sits may move the last digits on some CPUs.)
    assert got[3] == pytest.approx(got[1], abs=1e-6) and theirs[3] != pytest.approx(theirs[1], abs=1e-6)

    def log_odds(p: float) -> float:
        return float(torch.logit(torch.tensor(p, dtype=torch.float64), eps=1e-6))

    for g, e, t in zip(got[:3], ours, theirs, strict=False):
        assert set(g) == set(ensemble.labels)
        for label in ("toxicity", "severe_toxicity", "identity_attack"):
            mean = (log_odds(e[label]) + log_odds(t[label])) / 2
            assert g[label] == pytest.approx(float(torch.sigmoid(torch.tensor(mean))), abs=1e-6)
            assert min(e[label], t[label]) - 1e-9 <= g[label] <= max(e[label], t[label]) + 1e-9
        for label in ("obscene", "threat", "insult", "sexual_explicit"):
            assert g[label] == e[label]
    assert blend.version == f"{ensemble.version}+{transformer.version}"
    assert blend.explain(texts) == ensemble.explain(texts)
    assert blend.languages == ensemble.languages
