"""Sites with their API keys, and dashboard users with their passwords."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, make_transient_to_detached
from werkzeug.security import check_password_hash, generate_password_hash

from service import audit, language, policy
from service.db import ProcessCache
from service.models import ApiKey, ErasureMode, Role, Site, SiteWord, User, UserSite, WordKind, utcnow

KEY_PREFIX = "stet_"
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A site or user cannot be created as asked; the message says why."""


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough (no salt or stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


# Who changed something when it was not a dashboard user: the command line.
CLI = "cli"


def create_site(session: Session, name: str, actor: User | str = CLI) -> tuple[Site, str]:
    """A new site and its first API key; the key is returned once and only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a site needs a name of 1 to 100 characters")
    if session.scalar(select(Site).where(Site.name == name)) is not None:
        raise AccountError(f"a site named {name!r} already exists")
    site = Site(name=name)
    session.add(site)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="site.create",
        target_type="site",
        target_id=site.id,
        after={"name": name},
        site_id=site.id,
    )
    return site, create_key(session, site, actor)


def create_key(session: Session, site: Site, actor: User | str = CLI) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(site=site, prefix=key[: len(KEY_PREFIX) + 6], key_hash=hash_key(key))
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="key.create",
        target_type="api_key",
        target_id=row.id,
        after={"prefix": row.prefix},
        site_id=site.id,
    )
    return key


def revoke_key(session: Session, key: ApiKey, actor: User | str = CLI) -> None:
    """Stop a key from working (kept, marked revoked, for the record)."""
    if key.revoked_at is not None:
        raise AccountError(f"key {key.prefix}… is already revoked")
    key.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="key.revoke",
        target_type="api_key",
        target_id=key.id,
        before={"prefix": key.prefix},
        after={"revoked": True},
        site_id=key.site_id,
    )


THRESHOLDS = ("approve_below", "reject_above", "spam_queue_above", "spam_reject_above")


def set_thresholds(
    session: Session,
    site: Site,
    values: Mapping[str, float | None],
    actor: User | str = CLI,
    *,
    attributes: Mapping[str, Mapping[str, float | None]] | None = None,
    rude: str | None = None,
) -> Site:
    """Override a site's policy thresholds (None: the installation default); each in [0, 1],
    approving below the rejection threshold and queueing spam below rejecting it. ``attributes``
    replaces the dangerous attributes' rules (``{"threat": {"queue_at", "reject_at"}}``, a field
    left out falls back; ``None`` leaves them) and ``rude`` (``queue``, ``approve``; ``""`` for the
    default) what happens to comments that are only rude."""
    before = {name: getattr(site, name) for name in (*THRESHOLDS, "attribute_thresholds", "rude")}
    after = {**before, **{name: values[name] for name in THRESHOLDS if name in values}}
    for name in THRESHOLDS:
        value = after[name]
        if value is not None and not 0.0 <= value <= 1.0:
            raise AccountError(f"{name.replace('_', ' ')} must be between 0 and 1")
    for low, high in (("approve_below", "reject_above"), ("spam_queue_above", "spam_reject_above")):
        if after[low] is not None and after[high] is not None and after[low] >= after[high]:
            raise AccountError(f"{low.replace('_', ' ')} must be lower than {high.replace('_', ' ')}")
    if attributes is not None:
        kept = {label: dict(fields) for label, fields in attributes.items() if fields}
        try:
            policy.merge_rules(policy.DEFAULT_RULES, kept)
        except ValueError as exc:
            raise AccountError(str(exc).replace("_", " ")) from None
        after["attribute_thresholds"] = kept or None
    if rude is not None:
        if rude and rude not in policy.RUDE_MODES:
            raise AccountError(f"rude comments: {' or '.join(policy.RUDE_MODES)}")
        after["rude"] = rude or None
    for name, value in after.items():
        setattr(site, name, value)
    audit.record(
        session,
        actor=actor,
        action="site.thresholds",
        target_type="site",
        target_id=site.id,
        before=before,
        after=after,
        site_id=site.id,
    )
    return site


def set_language(
    session: Session, site: Site, code: str, unvalidated: str = "", actor: User | str = CLI
) -> Site:
    """Set the language a site publishes in (an ISO 639-1 code such as ``de``; detection leans on
    it) and what happens to comments in a language its model is not validated for (``queue``,
    ``approve``; ``""`` for the installation default)."""
    primary = language.primary(code)
    if primary is None:
        raise AccountError(f"language: an ISO 639-1 code such as en, de or fr, got {code!r}")
    if unvalidated and unvalidated not in policy.UNVALIDATED_LANGUAGE_MODES:
        raise AccountError(f"other languages: {' or '.join(policy.UNVALIDATED_LANGUAGE_MODES)}")
    before = {"language": site.language, "unvalidated_language": site.unvalidated_language}
    site.language, site.unvalidated_language = primary, unvalidated or None
    after = {"language": site.language, "unvalidated_language": site.unvalidated_language}
    audit.record(
        session,
        actor=actor,
        action="site.language",
        target_type="site",
        target_id=site.id,
        before=before,
        after=after,
        site_id=site.id,
    )
    return site


def set_options(
    session: Session,
    site: Site,
    *,
    timezone: str | None = None,
    erasure: str | None = None,
    report_hide_weight: float | None = None,
    actor: User | str = CLI,
) -> Site:
    """Change a site's time zone (IANA name: its reports and dates are shown in it), what erasing
    an author does to their comments (``anonymise`` or ``remove``) and the weight of reader reports
    that hides an approved comment until a moderator looks; ``None`` leaves one as it is."""
    after: dict[str, object] = {}
    if timezone is not None:
        try:
            ZoneInfo(timezone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise AccountError(f"time zone: an IANA name such as Europe/Berlin, got {timezone!r}") from None
        after["timezone"] = timezone.strip()
    if erasure is not None:
        if erasure not in set(ErasureMode):
            raise AccountError(f"erasure: {' or '.join(ErasureMode)}, got {erasure!r}")
        after["erasure"] = erasure
    if report_hide_weight is not None:
        if not 0 < report_hide_weight <= 1000:
            raise AccountError(f"report hide weight: above 0 and at most 1000, got {report_hide_weight}")
        after["report_hide_weight"] = float(report_hide_weight)
    before = {name: getattr(site, name) for name in after}
    for name, value in after.items():
        setattr(site, name, value)
    if after != before:
        audit.record(
            session,
            actor=actor,
            action="site.options",
            target_type="site",
            target_id=site.id,
            before=before,
            after=after,
            site_id=site.id,
        )
    return site


def set_coral_secret(session: Session, site: Site, secret: str, actor: User | str = CLI) -> Site:
    """Accept Coral's external moderation requests for ``site``, signed with ``secret`` (the signing
    secret Coral shows for the phase); ``""`` turns them off."""
    secret = secret.strip()
    if secret and not 16 <= len(secret) <= 200:
        raise AccountError("Coral's signing secret: 16 to 200 characters, as Coral shows it")
    site.coral_secret = secret or None
    audit.record(
        session,
        actor=actor,
        action="site.coral",
        target_type="site",
        target_id=site.id,
        after={"external_moderation": bool(secret)},
        site_id=site.id,
    )
    return site


# Every API request names its site by key: one query per request for the same few rows cost 0.4 ms
# of a 5 ms POST. A key revoked or a site changed by another process takes effect within 5 s.
_site_keys = ProcessCache(5.0, Site, ApiKey)


def site_for_key(session: Session, key: str) -> Site | None:
    """The site whose unrevoked API key ``key`` is, attached to ``session``."""
    key_hash = hash_key(key)
    cached = _site_keys.get(session, key_hash)
    if cached is not None:
        return session.merge(cached, load=False)
    site = session.scalar(
        select(Site).join(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    if site is not None:
        detached = Site(**{column.key: getattr(site, column.key) for column in Site.__table__.columns})
        make_transient_to_detached(detached)
        _site_keys.put(session, key_hash, detached)
    return site


def change_words(
    session: Session,
    site_name: str,
    changes: Mapping[WordKind, Iterable[str]],
    *,
    remove: bool = False,
    actor: User | str = CLI,
) -> dict[WordKind, list[str]]:
    """Add (or remove) word-list entries of a site; returns its lists afterwards."""
    from service.moderation import word_lists
    from service.wordlists import WordLists

    site = session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        raise AccountError(f"no site named {site_name!r}")
    if not remove:
        try:  # refuse what the worker could not match
            WordLists(*(changes.get(kind, ()) for kind in WordKind))
        except ValueError as exc:
            raise AccountError(str(exc)) from None
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
    after = word_lists(session, site.id)
    if after != current:
        audit.record(
            session,
            actor=actor,
            action="site.words",
            target_type="site",
            target_id=site.id,
            before=_plain(current),
            after=_plain(after),
            site_id=site.id,
        )
    return after


def _plain(lists: Mapping[WordKind, list[str]]) -> dict[str, list[str]]:
    return {kind.value: patterns for kind, patterns in lists.items()}


def set_akismet(
    session: Session, site_name: str, key: str | None, blog: str | None, actor: User | str = CLI
) -> Site:
    """Turn a site's Akismet check on (key and the site's home URL) or off (no key); audited (the
    key itself is not recorded)."""
    site = session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        raise AccountError(f"no site named {site_name!r}")
    if key is not None and not (blog or "").startswith(("http://", "https://")):
        raise AccountError("Akismet needs the site's home page URL (http:// or https://)")
    site.akismet_key, site.akismet_blog = key, blog if key is not None else None
    audit.record(
        session,
        actor=actor,
        action="site.akismet",
        target_type="site",
        target_id=site.id,
        after={"akismet": key is not None, "blog": site.akismet_blog},
        site_id=site.id,
    )
    return site


def create_user(session: Session, name: str, role: Role, password: str, actor: User | str = CLI) -> User:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a user needs a name of 1 to 100 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AccountError(f"a user named {name!r} already exists")
    user = User(name=name, role=role.value, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        after={"name": name, "role": role.value},
    )
    return user


def change_user(
    session: Session, user: User, actor: User, *, role: Role | None = None, active: bool | None = None
) -> User:
    """Give a user another role, or deactivate (or reactivate) them; one active admin always remains.
    A change ends the user's dashboard sessions: they log in again under the new role."""
    before = {"role": user.role, "active": user.active}
    new_role, new_active = role.value if role else user.role, user.active if active is None else active
    after = {"role": new_role, "active": new_active}
    if before["role"] == Role.ADMIN.value and before["active"] and after != before:
        admins = select(func.count()).where(User.role == Role.ADMIN.value, User.active.is_(True))
        others = session.scalar(admins.where(User.id != user.id))
        if not others:
            raise AccountError("keep at least one active admin: make someone else an admin first")
    if after != before:
        end_sessions(user)
    user.role, user.active = new_role, new_active
    audit.record(
        session,
        actor=actor,
        action="user.change",
        target_type="user",
        target_id=user.id,
        before=before,
        after=after,
    )
    return user


def sites_of(session: Session, user: User) -> frozenset[int] | None:
    """The ids of the sites ``user`` moderates; ``None``: every site (admins, and moderators given
    no site). Every queue, card, action and author lookup of the dashboard and the moderation API
    is limited to them."""
    if user.role == Role.ADMIN.value:
        return None
    ids = frozenset(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))
    return ids or None


def set_user_sites(session: Session, user: User, site_ids: Iterable[int], actor: User | str = CLI) -> None:
    """Limit a moderator to these sites (none: every site); audited."""
    wanted = frozenset(site_ids)
    known = frozenset(session.scalars(select(Site.id).where(Site.id.in_(wanted))))
    if known != wanted:
        raise AccountError(f"no site with id {', '.join(map(str, sorted(wanted - known)))}")
    before = sorted(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))
    if before == sorted(wanted):
        return
    session.execute(delete(UserSite).where(UserSite.user_id == user.id))
    session.add_all(UserSite(user_id=user.id, site_id=site_id) for site_id in sorted(wanted))
    audit.record(
        session,
        actor=actor,
        action="user.sites",
        target_type="user",
        target_id=user.id,
        before={"sites": before},
        after={"sites": sorted(wanted)},
    )


def end_sessions(user: User) -> None:
    """End every dashboard session of ``user`` (each carries the epoch it began in; the caller commits)."""
    user.session_epoch += 1


def set_password(session: Session, user: User, password: str, actor: User | str = CLI) -> User:
    """Give ``user`` a new password; their sessions end. The caller commits."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    audit.record(session, actor=actor, action="user.password", target_type="user", target_id=user.id)
    return user


@cache
def _unknown_user_hash() -> str:
    """A hash to check a password against when the name is unknown: made once, so an unknown name
    costs one hash check like a known one (it used to cost a hash and a check, twice as long)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.name == name.strip(), User.active.is_(True)))
    if user is None:
        # Spend the same time as a real check so names cannot be probed by timing.
        check_password_hash(_unknown_user_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
