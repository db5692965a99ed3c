"""``stet site webhook add|list|rotate|remove``: a site's webhook endpoints from the command line."""

from __future__ import annotations

from datetime import timedelta

import click
from sqlalchemy import select

from service.app.common import command_session, env_settings

ACTOR = "cli"


@click.group("webhook")
def webhook() -> None:
    """Webhook endpoints that receive a site's events, signed with a per-endpoint secret."""


@webhook.command("add")
@click.argument("site_name")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    help="comment.created, comment.decided or comment.reported (default: all).",
)
def add(site_name: str, url: str, events: tuple[str, ...]) -> None:
    """Send SITE_NAME's events to URL; prints the endpoint's id and its signing secret (once)."""
    from service import webhooks
    from service.models import Site

    with command_session() as session:
        site = session.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise click.ClickException(f"no site named {site_name!r}")
        try:
            settings = env_settings()
            hook = webhooks.add(
                session,
                site,
                url,
                events,
                ACTOR,
                allow_private=settings.webhook_allow_private,
                networks=settings.webhook_networks,
            )
        except webhooks.WebhookError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"{hook.id} {hook.secret}")


@webhook.command("list")
@click.argument("site_name")
def list_(site_name: str) -> None:
    """SITE_NAME's endpoints: id, URL, events and the state of their deliveries."""
    from sqlalchemy import func

    from service.models import Site, Webhook, WebhookDelivery

    with command_session() as session:
        site = session.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise click.ClickException(f"no site named {site_name!r}")
        for hook in session.scalars(select(Webhook).where(Webhook.site_id == site.id).order_by(Webhook.id)):
            counts = dict(
                session.execute(
                    select(WebhookDelivery.state, func.count())
                    .where(WebhookDelivery.webhook_id == hook.id)
                    .group_by(WebhookDelivery.state)
                ).all()
            )
            states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no deliveries"
            click.echo(f"{hook.id}\t{hook.url}\t{','.join(hook.events)}\t{states}")


@webhook.command("rotate")
@click.argument("webhook_id", type=int)
@click.option("--grace-hours", default=24.0, show_default=True, help="How long the old secret still signs.")
def rotate(webhook_id: int, grace_hours: float) -> None:
    """Give an endpoint a new secret (printed once); both sign deliveries during the grace period."""
    from service import webhooks
    from service.models import Webhook

    with command_session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise click.ClickException(f"no webhook {webhook_id}")
        secret = webhooks.rotate(session, hook, ACTOR, timedelta(hours=grace_hours))
        session.commit()
    click.echo(secret)


@webhook.command("remove")
@click.argument("webhook_id", type=int)
def remove(webhook_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    from service import webhooks
    from service.models import Webhook

    with command_session() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise click.ClickException(f"no webhook {webhook_id}")
        webhooks.remove(session, hook, ACTOR)
        session.commit()
    click.echo(f"removed webhook {webhook_id}", err=True)
