"""``stet model``: train and evaluate the scoring models."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import click

from service.app import scoring_commands

# --- models --------------------------------------------------------------------------------


@click.group()
def model() -> None:
    """Train and evaluate the scoring models."""


def require_train_extra() -> None:
    """The worker scores without scikit-learn; training and evaluation fit and measure with it."""
    if find_spec("sklearn") is None:
        raise click.ClickException("training and evaluating need the train extra: pip install 'stet[train]'")


TASKS = click.Choice(["toxicity", "spam"])


@model.command("train")
@click.option(
    "--task",
    type=click.Choice([*TASKS.choices, "attributes", "transformer", "minilm"]),
    default="toxicity",
    show_default=True,
    help="attributes: the default scorer's seven heads (data: the shared data folder); minilm: the "
    "seven-attribute MiniLM on the same data (resumable; a GPU when torch sees one).",
)
@click.option(
    "--data", type=click.Path(exists=True, path_type=Path), help="Training data (default: the shared set)."
)
@click.option("--out", type=click.Path(path_type=Path), help="Artifact folder (default: the shipped models).")
@click.option("--steps", default=220, show_default=True, help="transformer: optimiser steps (resumable).")
@click.option(
    "--epochs",
    type=float,
    default=3,
    show_default=True,
    help="minilm: passes over the training rows; a fraction (0.7) trains on a random part of them, the "
    "learning rate decaying to 0 there.",
)
@click.option(
    "--minutes",
    type=float,
    help="transformer, minilm: stop training after this long (rerun to continue); minilm 0: no training, "
    "export what a run left in --out (with that run's options).",
)
@click.option("--device", help="transformer, minilm: cuda, cpu, ... (default: a GPU when torch sees one).")
@click.option("--layers", type=int, help="minilm: keep the base's bottom N layers (a smaller, faster model).")
@click.option(
    "--embedding-bits",
    type=click.Choice(["8", "4"]),
    help="minilm: train on word embeddings rounded to 8 or 4 bits and frozen, as the export stores them.",
)
@click.option(
    "--portable",
    is_flag=True,
    help="minilm: write only the pack and a portable base for a GPU machine, and say what to run there.",
)
def model_train(
    task: str,
    data: Path | None,
    out: Path | None,
    steps: int,
    epochs: float,
    minutes: float | None,
    device: str | None,
    layers: int | None,
    embedding_bits: str | None,
    portable: bool,
) -> None:
    """Train a model and report its held-out metrics (transformer: data is the shared data folder)."""
    require_train_extra()
    from worker import training
    from worker.training import spam as spam_training

    if task == "attributes":
        from worker.training.attributes import train_attributes

        result = train_attributes(data, out, progress=True)
    elif task == "transformer":
        from worker.training.transformer import train_transformer

        result = train_transformer(data, out, steps=steps, minutes=minutes, progress=True, device=device)
    elif task == "minilm":
        from worker.training.transformer import train_minilm

        result = train_minilm(
            data, out, epochs=epochs, minutes=minutes, device=device, layers=layers, portable=portable,
            embedding_bits=int(embedding_bits) if embedding_bits else None,
        )  # fmt: skip
    elif task == "spam":
        result = spam_training.train_spam(data, out, progress=True)
    else:
        result = training.train_toxicity(data, out, progress=True)
    click.echo(json.dumps(result, indent=2))


@model.command("eval")
@click.option(
    "--task",
    type=click.Choice([*TASKS.choices, "attributes"]),
    default="toxicity",
    show_default=True,
    help="attributes: the default scorer, every attribute per source, and the decision mix.",
)
@click.option(
    "--data", type=click.Path(exists=True, path_type=Path), help="Evaluation data (default: the shared set)."
)
@click.option(
    "--model", "model_path", type=click.Path(exists=True, path_type=Path), help="Artifact (default: shipped)."
)
@click.option(
    "--scorer",
    "scorers",
    multiple=True,
    help="toxicity: only this scorer (repeatable); attributes: this one, not the ensemble (e.g. blend).",
)
@click.option("--out", type=click.Path(path_type=Path), default="model-eval", show_default=True)
@click.option("--limit", type=int, help="toxicity: score at most this many toxicity test comments.")
def model_eval(
    task: str,
    data: Path | None,
    model_path: Path | None,
    scorers: tuple[str, ...],
    out: Path,
    limit: int | None,
) -> None:
    """Evaluate on held-out data (toxicity: every scorer, Markdown + plots; spam: leave-one-video-out)."""
    require_train_extra()
    from worker.training import spam as spam_training

    if task == "spam":
        click.echo(json.dumps(spam_training.evaluate_spam(data, model_path, progress=True), indent=2))
    elif task == "attributes":
        from worker.training.attribute_eval import evaluate_attributes, markdown

        if len(scorers) > 1:
            raise click.UsageError("--task attributes evaluates one --scorer at a time")
        report = evaluate_attributes(
            data, out, model=model_path, scorer_name=scorers[0] if scorers else None, progress=True
        )
        click.echo(markdown(report))
    else:
        scoring_commands.model_eval(scorers, model_path, data, out, limit)
