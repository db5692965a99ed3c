"""``stet site``: news sites, their keys, word lists, Akismet, Coral and webhooks."""

from __future__ import annotations

import click
from sqlalchemy import select

from service.app import webhook_commands
from service.app.common import command_session


@click.group()
def site() -> None:
    """News sites and their API keys."""


@site.command("create")
@click.argument("name")
@click.option(
    "--language", default="en", show_default=True, help="The language the site publishes in (ISO 639-1)."
)
def site_create(name: str, language: str) -> None:
    """Create site NAME and print its API key (alone, on standard output, once)."""
    from service import accounts

    with command_session() as session:
        try:
            new, key = accounts.create_site(session, name)
            if language != "en":
                accounts.set_language(session, new, language)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(key)


@site.command("coral")
@click.argument("name")
@click.option(
    "--secret", required=True, help="The signing secret Coral shows for the phase ('' turns it off)."
)
def site_coral(name: str, secret: str) -> None:
    """Answer Coral's external moderation phase for site NAME (POST /api/v1/coral/moderation?key=KEY)."""
    from service import accounts
    from service.models import Site

    with command_session() as session:
        found = session.scalar(select(Site).where(Site.name == name))
        if found is None:
            raise click.ClickException(f"no site named {name!r}")
        try:
            accounts.set_coral_secret(session, found, secret)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo("Coral external moderation " + ("on" if secret else "off") + f" for {name}")


@site.command("set")
@click.argument("name")
@click.option("--timezone", help="IANA zone its reports and dates are shown in, e.g. Europe/Berlin.")
@click.option("--erasure", type=click.Choice(["anonymise", "remove"]), help="What erasing an author does.")
@click.option("--report-hide-weight", type=float, help="Reader-report weight that hides a comment.")
@click.option("--language", help="The language the site publishes in (ISO 639-1).")
@click.option(
    "--other-languages",
    type=click.Choice(["queue", "approve", "default"]),
    help="Comments in a language no model is validated for.",
)
@click.option("--approve-below", type=float, help="Approve toxicity below this ('-1': the default).")
@click.option("--reject-above", type=float, help="Reject toxicity from this ('-1': the default).")
@click.option("--spam-queue-above", type=float, help="Queue spam from this ('-1': the default).")
@click.option("--spam-reject-above", type=float, help="Reject spam from this ('-1': the default).")
@click.option("--rude", type=click.Choice(["queue", "approve", "default"]), help="Comments only rude.")
def site_set(
    name: str,
    timezone: str | None,
    erasure: str | None,
    report_hide_weight: float | None,
    language: str | None,
    other_languages: str | None,
    rude: str | None,
    **thresholds: float | None,
) -> None:
    """Change site NAME's settings; those not given stay as they are (the dashboard's site page
    changes the same ones)."""
    from service import accounts
    from service.models import Site

    changes = {key: value for key, value in thresholds.items() if value is not None}
    given = [timezone, erasure, report_hide_weight, language, other_languages, rude, *changes.values()]
    if all(value is None for value in given):
        raise click.UsageError("give at least one setting to change (stet site set --help)")
    with command_session() as session:
        found = session.scalar(select(Site).where(Site.name == name))
        if found is None:
            raise click.ClickException(f"no site named {name!r}")
        try:
            accounts.set_options(
                session, found, timezone=timezone, erasure=erasure, report_hide_weight=report_hide_weight
            )
            if language is not None or other_languages is not None:
                other = other_languages or found.unvalidated_language or "default"
                accounts.set_language(
                    session, found, language or found.language, "" if other == "default" else other
                )
            if changes or rude is not None:
                accounts.set_thresholds(
                    session,
                    found,
                    {key: None if value == -1 else value for key, value in changes.items()},
                    rude=None if rude is None else "" if rude == "default" else rude,
                )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        shown = {
            "time zone": found.timezone,
            "erasure": found.erasure,
            "report hide weight": found.report_hide_weight,
            "language": found.language,
            **{key.replace("_", " "): getattr(found, key) for key in accounts.THRESHOLDS},
        }
    click.echo(
        f"{name}: "
        + ", ".join(f"{key} {value if value is not None else 'default'}" for key, value in shown.items())
    )


@site.command("words")
@click.argument("name")
@click.option("--banned", multiple=True, help="Reject comments with this word or phrase (* is a wildcard).")
@click.option("--suspect", multiple=True, help="Queue comments with this word or phrase for a person.")
@click.option(
    "--allowed-domain", multiple=True, help="Links to this domain (or *.domain) are no spam signal."
)
@click.option("--remove", is_flag=True, help="Remove the given entries instead of adding them.")
def site_words(
    name: str,
    banned: tuple[str, ...],
    suspect: tuple[str, ...],
    allowed_domain: tuple[str, ...],
    remove: bool,
) -> None:
    """Change site NAME's word lists, then print them."""
    from service import accounts
    from service.models import WordKind
    from service.wordlists import WordLists

    changes = {WordKind.BANNED: banned, WordKind.SUSPECT: suspect, WordKind.ALLOWED_DOMAIN: allowed_domain}
    try:
        WordLists(banned, suspect, allowed_domain)  # refuse what the worker could not match
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with command_session() as session:
        try:
            lists = accounts.change_words(session, name, changes, remove=remove)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    for kind, patterns in lists.items():
        click.echo(f"{kind.value}: {', '.join(patterns) or '-'}")


@site.command("akismet")
@click.argument("name")
@click.option("--key", help="The site's Akismet API key.")
@click.option("--blog", help="The site's home page URL, as registered with Akismet.")
@click.option("--off", is_flag=True, help="Stop checking this site's comments with Akismet.")
def site_akismet(name: str, key: str | None, blog: str | None, off: bool) -> None:
    """Check site NAME's comments with Akismet as one more spam signal (sends their text to Akismet)."""
    from service import accounts

    if off == bool(key):
        raise click.UsageError("give --key and --blog to turn Akismet on, or --off")
    with command_session() as session:
        try:
            accounts.set_akismet(session, name, None if off else key, blog)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"Akismet is {'off' if off else 'on'} for {name}", err=True)


site.add_command(webhook_commands.webhook)
