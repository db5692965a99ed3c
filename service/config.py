"""One Settings object read from environment variables by every Stet process.

Each setting is one ``STET_*`` variable with a type and a default, so the API,
the worker and the CLI agree on where the database and the broker are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.policy import AttributeRule


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".stet")
    database_url: str = ""  # empty: SQLite at $STET_HOME/stet.db
    redis_url: str = ""  # empty: `stet run` starts an embedded Redis
    port: int = 8000
    host: str = "127.0.0.1"
    secret_key: str = ""  # empty: generated once and kept in $STET_HOME/secret_key
    scorers: str = "ensemble"  # the toxicity scorer: every attribute (worker/scorers/ensemble.py)
    # STET_SCORERS=detoxify or cascade (needs the `transformer` extra): a detoxify model name
    # ("original", downloaded once) or a checkpoint file; with a config/tokenizer folder, fully offline.
    detoxify_checkpoint: str = "original"
    detoxify_config_dir: str = ""
    detoxify_runtime: str = "torch"  # or "onnx": <checkpoint stem>.int8.onnx, no torch needed
    cascade_band: str = ""  # "low,high" of the linear score; empty: the band in the checkpoint's card
    # The worker scores up to this many waiting comments in one run (1: one comment per run).
    score_batch: int = 32
    spam: bool = True  # also score spam (content model, signals, repetition, bursts, word lists)
    max_body_chars: int = 10_000
    # Per-site defaults; a site row may override them.
    approve_below: float = 0.08
    reject_above: float = 0.97  # rejects only with a dangerous attribute at its queue_at (service.policy)
    # The dangerous attributes' rules as JSON, {"threat": {"queue_at": 0.2, "reject_at": 0.9}}, over
    # service.policy.DEFAULT_RULES; "rude": "queue" comments that are only rude, or "approve" them.
    attribute_thresholds: str = ""
    rude: str = "queue"
    # Comments in a language the scorer is not validated for (service.language): "queue" or "approve"
    # those the model finds nothing in; a site may choose otherwise.
    unvalidated_language: str = "queue"
    spam_queue_above: float = 0.5
    spam_reject_above: float = 0.95
    # A spam score with no signal behind it (no link, contact, promotion, repetition...) is the
    # content model alone, trained on YouTube comments; it queues a comment only from this score.
    spam_alone_queue_above: float = 0.9
    # Repetition and bursts (per site): the window for near-duplicate copies, and how many
    # comments one author or one IP address may post in a minute before it counts as a burst.
    repetition_window: float = 600.0
    author_burst_limit: int = 5
    ip_burst_limit: int = 20
    # Where sites with an Akismet key are checked; empty: Akismet's own service.
    akismet_endpoint: str = ""
    # Every sweep_interval seconds the worker re-enqueues comments pending longer than
    # pending_timeout once the queue has drained (or 10x that long whatever the queue).
    sweep_interval: float = 10.0
    pending_timeout: float = 20.0
    secure_cookies: bool = False
    # API rate limits (Flask-Limiter notation): per site key, and on posting per author and per reader IP.
    rate_limit_site: str = "1200/minute"
    rate_limit_author: str = "10/minute"
    rate_limit_ip: str = "60/minute"
    # Webhook retries: the first after webhook_retry_base seconds, then doubling, until
    # webhook_retry_window seconds after the event, when the delivery is marked failed.
    webhook_retry_base: float = 30.0
    webhook_retry_window: float = 86_400.0
    webhook_timeout: float = 5.0
    # Coral's external moderation phase: seconds Stet may spend deciding before it answers 204 (no
    # opinion) and leaves the comment to the worker; keep it well under the phase's timeout in Coral.
    coral_budget: float = 0.5
    # Requests scored on the request path (Perspective's endpoint) at once, per API process.
    scoring_concurrency: int = 1
    # Webhook endpoints on loopback, private or link-local addresses are refused (no SSRF) unless set,
    # or unless they lie in one of these networks (comma-separated CIDRs: on-premises receivers).
    webhook_allow_private: bool = False
    webhook_allowed_networks: str = ""

    def __post_init__(self) -> None:
        from service import policy  # the rules' shapes live with the policy

        try:
            policy.Thresholds(
                self.approve_below,
                self.reject_above,
                attributes=self.attribute_rules,
                rude=self.rude,
                unvalidated_language=self.unvalidated_language,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                "STET_ATTRIBUTE_THRESHOLDS, STET_RUDE, STET_UNVALIDATED_LANGUAGE or the toxicity "
                f"thresholds: {exc}"
            ) from None
        if self.score_batch < 1:
            raise ValueError(f"STET_SCORE_BATCH must be at least 1, got {self.score_batch}")
        try:
            self.webhook_networks  # noqa: B018 - parsed now, so a typo stops the start, not a delivery
        except ValueError as exc:
            raise ValueError(f"STET_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None

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
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        coercers: dict[type | str, Callable[[str], Any]] = {
            "Path": Path,
            "str": str,
            "int": int,
            "float": float,
            "bool": _bool,
        }
        for f in fields(cls):
            raw = env.get(f"STET_{f.name.upper()}")
            if raw is not None and raw != "":
                try:
                    values[f.name] = coercers[str(f.type)](raw)
                except ValueError as exc:
                    raise ValueError(f"STET_{f.name.upper()}={raw!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)

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
