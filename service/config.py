"""One Settings object read from environment variables by every Stet process.

Each setting is one ``STET_*`` variable with a type, a range where it has one, and a default, so the
API, the worker and the CLI agree on where the database and the broker are. A value that does not
parse or is out of range stops the process at start with the variable named (``SettingsError``);
``STET_<NAME>_FILE`` reads a value from a file (Docker and Kubernetes secrets); an unknown
``STET_*`` name is warned about with the closest known one (``stet config check`` shows them all).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_type_hints

from pydantic import Field, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from service.policy import AttributeRule

log = logging.getLogger(__name__)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=1, le=65535)]

# Settings whose values are secrets: `stet config check` masks them (and a URL's password).
SECRETS = frozenset({"secret_key", "metrics_token", "sentry_dsn"})
URLS = frozenset({"database_url", "redis_url"})
# STET_* variables that are not settings: the training data's folder, the test suite's servers.
OTHER_NAMES = ("STET_DATA_DIR", "STET_TEST_")


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each variable and what is wrong with it."""


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".stet")
    database_url: str = ""  # empty: SQLite at $STET_HOME/stet.db
    redis_url: str = ""  # empty: `stet run` starts an embedded Redis
    port: Port = 8000
    host: str = "127.0.0.1"
    # What `stet api` serves: "all", or only the "api" (/api/v1, Perspective, Coral) or only the
    # "dashboard", so the port news sites reach need not expose the moderators' login.
    serve: Literal["all", "api", "dashboard"] = "all"
    secret_key: str = ""  # empty: generated once and kept in $STET_HOME/secret_key
    # The toxicity scorer, every attribute: the ensemble and Stet's compact MiniLM (worker/scorers/blend.py)
    scorers: str = "blend"
    # STET_SCORERS=detoxify or cascade (needs the `transformer` extra): a detoxify model name
    # ("original", downloaded once) or a checkpoint file; with a config/tokenizer folder, fully offline.
    detoxify_checkpoint: str = "original"
    detoxify_config_dir: str = ""
    # "onnx": <checkpoint stem>.onnx (float32), "onnx-w8": <stem>.w8.onnx (8-bit weights, a quarter
    # of the size), both run by ONNX Runtime without torch.
    detoxify_runtime: Literal["torch", "onnx", "onnx-w8"] = "torch"
    cascade_band: str = ""  # "low,high" of the linear score; empty: the band in the checkpoint's card
    # The worker scores up to this many waiting comments in one run (1: one comment per run).
    score_batch: Annotated[int, Field(ge=1, le=1000)] = 32
    spam: bool = True  # also score spam (content model, signals, repetition, bursts, word lists)
    max_body_chars: PositiveInt = 10_000
    # Per-site defaults; a site row may override them.
    approve_below: Fraction = 0.08
    reject_above: Fraction = 0.97  # rejects only with a dangerous attribute at 0.5 or more (service.policy)
    # The dangerous attributes' rules as JSON, {"threat": {"queue_at": 0.2, "reject_at": 0.9}}, over
    # service.policy.DEFAULT_RULES; "rude": "queue" comments that are only rude, or "approve" them.
    attribute_thresholds: str = ""
    rude: Literal["queue", "approve"] = "queue"
    # Comments in a language the scorer is not validated for (service.language): "queue" or "approve"
    # those the model finds nothing in; a site may choose otherwise.
    unvalidated_language: Literal["queue", "approve"] = "queue"
    spam_queue_above: Fraction = 0.5
    spam_reject_above: Fraction = 0.95
    # A spam score with no signal behind it (no link, contact, promotion, repetition...) is the
    # content model alone, trained on YouTube comments; it queues a comment only from this score.
    spam_alone_queue_above: Fraction = 0.9
    # Repetition and bursts (per site): the window for near-duplicate copies, and how many
    # comments one author or one IP address may post in a minute before it counts as a burst.
    repetition_window: Seconds = 600.0
    author_burst_limit: PositiveInt = 5
    ip_burst_limit: PositiveInt = 20
    # Where sites with an Akismet key are checked; empty: Akismet's own service.
    akismet_endpoint: str = ""
    # Every sweep_interval seconds the worker re-enqueues comments pending longer than
    # pending_timeout once the queue has drained (or 10x that long whatever the queue).
    sweep_interval: Seconds = 10.0
    pending_timeout: Seconds = 20.0
    secure_cookies: bool = False
    # API rate limits (Flask-Limiter notation): per site key, and on posting per author and per reader IP.
    # A site may post 200 comments/s for a minute: a burst that size is absorbed on 2 cores
    # (benchmarks/burst.py, README "Capacity"), and other sites keep the rest of what `stet api`
    # ingests (350/s there, benchmarks/ingest.py).
    rate_limit_site: str = "12000/minute"
    rate_limit_author: str = "10/minute"
    rate_limit_ip: str = "60/minute"
    # Webhook retries: the first after webhook_retry_base seconds, then doubling, until
    # webhook_retry_window seconds after the event, when the delivery is marked failed.
    webhook_retry_base: Seconds = 30.0
    webhook_retry_window: Seconds = 86_400.0
    webhook_timeout: Seconds = 5.0
    # Coral's external moderation phase: seconds Stet may spend deciding before it answers 204 (no
    # opinion) and leaves the comment to the worker; keep it well under the phase's timeout in Coral.
    coral_budget: Seconds = 0.5
    # Requests scored on the request path (Perspective's endpoint) at once, per API process.
    scoring_concurrency: PositiveInt = 1
    # Webhook endpoints on loopback, private or link-local addresses are refused (no SSRF) unless set,
    # or unless they lie in one of these networks (comma-separated CIDRs: on-premises receivers).
    webhook_allow_private: bool = False
    webhook_allowed_networks: str = ""
    # Logs: "text" or "json" (one object per line), from this level; both carry request ids.
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # /metrics (Prometheus) answers only to "Authorization: Bearer <token>" when set; open otherwise.
    metrics_token: str = ""
    # A `stet worker` serves its metrics on STET_HOST at this port; 0: it serves none.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # Errors go to Sentry when set (needs the `sentry` extra); comment bodies are never sent.
    sentry_dsn: str = ""

    def __post_init__(self) -> None:
        """Every value in its type and range, and the values that must agree with each other, checked
        now: a bad setting stops the process at start, not a request or a delivery later."""
        from limits import parse_many

        from service import policy  # the rules' shapes live with the policy

        problems = []
        for f in fields(self):
            try:
                _adapters()[f.name].validate_python(getattr(self, f.name))
            except ValidationError as exc:
                problems.append(f"{env_name(f.name)}={getattr(self, f.name)!r}: {_message(exc)}")
        if problems:  # the checks below assume each value is sound
            raise SettingsError("; ".join(problems))
        checks: dict[str, Callable[[], object]] = {
            "STET_ATTRIBUTE_THRESHOLDS, STET_APPROVE_BELOW/REJECT_ABOVE or STET_SPAM_*_ABOVE": lambda: (
                policy.Thresholds(
                    self.approve_below,
                    self.reject_above,
                    self.spam_queue_above,
                    self.spam_reject_above,
                    self.spam_alone_queue_above,
                    attributes=self.attribute_rules,
                    rude=self.rude,
                    unvalidated_language=self.unvalidated_language,
                )
            ),
            "STET_WEBHOOK_ALLOWED_NETWORKS": lambda: self.webhook_networks,
            "STET_RATE_LIMIT_SITE": lambda: parse_many(self.rate_limit_site),
            "STET_RATE_LIMIT_AUTHOR": lambda: parse_many(self.rate_limit_author),
            "STET_RATE_LIMIT_IP": lambda: parse_many(self.rate_limit_ip),
        }
        for name, check in checks.items():
            try:
                check()
            except (ValueError, TypeError, AttributeError) as exc:
                problems.append(f"{name}: {exc}")
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def attribute_rules(self) -> Mapping[str, AttributeRule]:
        """The dangerous attributes' rules of this installation: ``STET_ATTRIBUTE_THRESHOLDS`` over
        the policy's defaults."""
        from service import policy

        rules = json.loads(self.attribute_thresholds or "{}")
        if not isinstance(rules, dict):
            raise ValueError("expected a JSON object")
        return policy.merge_rules(policy.DEFAULT_RULES, rules)

    @property
    def webhook_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The internal networks webhooks may reach (``STET_WEBHOOK_ALLOWED_NETWORKS``)."""
        return tuple(
            ip_network(part.strip()) for part in self.webhook_allowed_networks.split(",") if part.strip()
        )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'stet.db').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings in ``environ`` (the process's environment), over the defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, raw in raw_values(env).items():
            try:
                values[name] = _adapters()[name].validate_strings(raw.strip())
            except ValidationError as exc:
                problems.append(f"{env_name(name)}={raw!r}: {_message(exc)}")
        if problems:
            raise SettingsError("; ".join(problems))
        for name, suggestion in unknown_names(env).items():
            hint = f" (did you mean {suggestion}?)" if suggestion else ""
            log.warning("%s is not a Stet setting and is ignored%s", name, hint)
        values.update(overrides)
        return cls(**values)

    def shown(self) -> dict[str, str]:
        """Every setting as ``stet config check`` prints it: secrets masked, URLs without password."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRETS and value:
                value = "********"
            elif f.name in URLS and value:
                from sqlalchemy.engine import make_url

                value = make_url(value).render_as_string(hide_password=True)
            shown[env_name(f.name)] = str(value)
        return shown

    def secret(self) -> str:
        """The session-signing key: from the environment, else created once per home."""
        if self.secret_key:
            return self.secret_key
        path = self.home / "secret_key"
        if not path.exists():
            import secrets

            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()


def env_name(field: str) -> str:
    return f"STET_{field.upper()}"


@cache
def _adapters() -> dict[str, TypeAdapter[Any]]:
    """A pydantic validator per setting, from its annotated type (ranges and choices included)."""
    hints = get_type_hints(Settings, include_extras=True)
    return {f.name: TypeAdapter(hints[f.name]) for f in fields(Settings)}


def _message(exc: ValidationError) -> str:
    return "; ".join(error["msg"] for error in exc.errors())


def raw_values(env: Mapping[str, str]) -> dict[str, str]:
    """Each setting given in ``env``, as text: ``STET_<NAME>``, or the file ``STET_<NAME>_FILE`` names."""
    raw: dict[str, str] = {}
    for f in fields(Settings):
        name = env_name(f.name)
        path = env.get(f"{name}_FILE")
        if path and env.get(name):
            raise SettingsError(f"{name} and {name}_FILE are both set: keep one")
        if path:
            try:
                raw[f.name] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(f"{name}_FILE={path!r}: {exc.strerror}") from None
        elif env.get(name):
            raw[f.name] = env[name]
    return raw


def unknown_names(env: Mapping[str, str]) -> dict[str, str | None]:
    """``STET_*`` variables that are not settings, each with the closest setting's name, if any."""
    known = [env_name(f.name) for f in fields(Settings)]
    unknown = {}
    for name in sorted(env):
        base = name.removesuffix("_FILE")
        if not name.startswith("STET_") or base in known or name.startswith(OTHER_NAMES):
            continue
        close = difflib.get_close_matches(base, known, n=1, cutoff=0.8)
        unknown[name] = close[0] if close else None
    return unknown
