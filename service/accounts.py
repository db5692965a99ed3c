"""Sites with their API keys, and dashboard users with their passwords."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service.models import ApiKey, Role, Site, SiteWord, User, WordKind

KEY_PREFIX = "stet_"
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A site or user cannot be created as asked; the message says why."""


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough (no salt or stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def create_site(session: Session, name: str) -> tuple[Site, str]:
    """A new site and its first API key; the key is returned once and only its hash is kept."""
    name = name.strip()
    if not name:
        raise AccountError("a site needs a name")
    if session.scalar(select(Site).where(Site.name == name)) is not None:
        raise AccountError(f"a site named {name!r} already exists")
    site = Site(name=name)
    session.add(site)
    return site, create_key(session, site)


def create_key(session: Session, site: Site) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(site=site, prefix=key[: len(KEY_PREFIX) + 6], key_hash=hash_key(key)))
    return key


def site_for_key(session: Session, key: str) -> Site | None:
    return session.scalar(
        select(Site).join(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )


def change_words(
    session: Session, site_name: str, changes: Mapping[WordKind, Iterable[str]], *, remove: bool = False
) -> dict[WordKind, list[str]]:
    """Add (or remove) word-list entries of a site; returns its lists afterwards."""
    from service.moderation import word_lists

    site = session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        raise AccountError(f"no site named {site_name!r}")
    current = word_lists(session, site.id)
    for kind, patterns in changes.items():
        for pattern in dict.fromkeys(p.strip() for p in patterns):
            if not pattern or len(pattern) > 200:
                raise AccountError(f"word-list entries have 1 to 200 characters: {pattern!r}")
            if remove:
                session.execute(
                    delete(SiteWord).where(
                        SiteWord.site_id == site.id, SiteWord.kind == kind, SiteWord.pattern == pattern
                    )
                )
            elif pattern not in current[kind]:
                session.add(SiteWord(site_id=site.id, kind=kind.value, pattern=pattern))
    session.flush()
    return word_lists(session, site.id)


def set_akismet(session: Session, site_name: str, key: str | None, blog: str | None) -> Site:
    """Turn a site's Akismet check on (key and the site's home URL) or off (no key)."""
    site = session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        raise AccountError(f"no site named {site_name!r}")
    if key is not None and not (blog or "").startswith(("http://", "https://")):
        raise AccountError("Akismet needs the site's home page URL (http:// or https://) as --blog")
    site.akismet_key, site.akismet_blog = key, blog if key is not None else None
    return site


def create_user(session: Session, name: str, role: Role, password: str) -> User:
    name = name.strip()
    if not name:
        raise AccountError("a user needs a name")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AccountError(f"a user named {name!r} already exists")
    user = User(name=name, role=role.value, password_hash=generate_password_hash(password))
    session.add(user)
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.name == name.strip(), User.active.is_(True)))
    if user is None:
        # Spend the same time as a real check so names cannot be probed by timing.
        check_password_hash(generate_password_hash("x"), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
