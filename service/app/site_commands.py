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
