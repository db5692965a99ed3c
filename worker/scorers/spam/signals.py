"""Spam signals beyond the words: links, contact baits, obfuscation, money and self-promotion.

``detect`` reads a normalised comment and returns one ``Reason`` per signal that fires: a stable
``code``, the ``weight`` it adds to the spam log-odds (see ``SpamScorer``), a ``detail`` a moderator
reads, and the ``spans`` of the original comment it points at. Links, e-mail addresses and phone
numbers are read in the ``plain`` form (so a Cyrillic ``і`` in ``bіt.ly`` still reads as a
shortener), phrases in the ``words`` form (leetspeak and spaced letters undone). At most
``MAX_LINKS`` links are examined, so a comment of 10,000 links costs little more than one of 100.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import islice

from service.normalize import Form, Normalized
from service.policy import Reason
from service.reasons import ReasonCode
from service.wordlists import DomainList, WordMatcher

SIGNALS_VERSION = "signals-1"
MAX_LINKS = 100
NEW_AUTHOR_MAX_COMMENTS = 2  # authors with at most this many earlier comments are new
MANY_LINKS = 3

# Log-odds added per reason before fitting; ``train_spam`` refits those the training data shows.
PRIOR_WEIGHTS: dict[str, float] = {
    ReasonCode.LINKS: 0.5,
    ReasonCode.MANY_LINKS: 1.0,
    ReasonCode.SHORTENER: 1.5,
    ReasonCode.LINK_ONLY: 1.5,
    ReasonCode.UNLISTED_DOMAIN: 1.0,
    ReasonCode.NEW_AUTHOR_LINKS: 1.5,
    ReasonCode.PHONE: 2.0,
    ReasonCode.EMAIL: 1.5,
    ReasonCode.MESSENGER: 2.5,
    ReasonCode.DM_BAIT: 1.5,
    ReasonCode.INVISIBLE: 2.0,
    ReasonCode.HOMOGLYPHS: 2.5,
    ReasonCode.SPACED_LETTERS: 1.5,
    ReasonCode.MONEY: 1.0,
    ReasonCode.PROMOTION: 1.0,
}

SHORTENERS = frozenset(
    "bit.ly tinyurl.com t.co goo.gl ow.ly is.gd buff.ly cutt.ly rb.gy tiny.cc shorturl.at rebrand.ly "
    "bl.ink v.gd s.id t.ly adf.ly shorte.st bc.vc x.co lnkd.in db.tt qr.net tr.im clck.ru soo.gd "
    "u.to shrtco.de linktr.ee tiny.one".split()
)
MESSENGER_HOSTS = {
    "t.me": "Telegram",
    "telegram.me": "Telegram",
    "wa.me": "WhatsApp",
    "chat.whatsapp.com": "WhatsApp",
    "kik.me": "Kik",
    "signal.me": "Signal",
    "discord.gg": "Discord",
}
_APP_NAMES = {"whatsapp": "WhatsApp", "snapchat": "Snapchat", "wechat": "WeChat"}
_TLDS = (
    "com|net|org|info|biz|io|co|ly|gl|gd|tk|ml|ga|cf|gq|xyz|top|site|online|club|shop|store|live|app|"
    "uk|ca|au|de|fr|ru|cn|br|es|nl|pl|ch|tv|cc|ws|su|ua|kr|jp|eu|asia|mobi|pro|link|click|win|bid|"
    "loan|vip|fun|space|website|tech|blog|me|ee|gg|im|at"
)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+"
    rf"|(?<![\w@.\-/])(?:[a-z0-9\-]+\.)+(?:{_TLDS})(?![\w\-])(?:/[^\s<>\"'()\[\]{{}}]*)?"
)
_HOST = re.compile(r"(?:https?://)?(?:[^@/\s]*@)?([^/?#:\s]+)")
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s.\-()]{0,2}\d){8,14}(?!\w)")
# Digits alone, thousands and years are counts or dates: 1000000000, 100.000.000, 2013 2014 2015.
_NOT_PHONE = re.compile(r"\d+|\d{1,3}(?:[.\s]\d{3})+|(?:(?:19|20)\d\d\W*)+")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")  # 89.205.38.27 is an address, not a phone
_APPS = r"(whats ?app|telegram|signal|kik|snap ?chat|wechat|viber|skype|discord)"
_MESSENGER = re.compile(
    rf"\b(?:add|message|msg|contact|text|call|reach|find|hit|ping|dm|inbox|write)\s+(?:me|us)\s+(?:up\s+)?"
    rf"(?:on|via|at|@)\s+{_APPS}\b|\b{_APPS}(?:\s*(?:me|us)\b|\s*[:@#+]|\s+(?:id|number|handle)\b|\s+\+?\d)"
)
_DM_BAIT = re.compile(r"\b(?:dm|pm|inbox|text|message|msg|contact|email)\s+(?:me|us)\b|\bhmu\b")
_EARNINGS = re.compile(r"[$€£]\s?\d[\d,.]*k?\s*(?:/|per|a|an|every)\s*(?:hour|day|week|month)\b")
_LETTER = re.compile(r"[^\W\d_]")

MONEY = WordMatcher(
    "make money*|making money|earn money|earn cash|extra cash|extra income|passive income|work from home|"
    "bitcoin*|crypto*|forex|binary option*|investment opportunit*|casino*|loan*|payday|giveaway*|"
    "gift card*|free gift*|free iphone*|promo code*|discount code*|coupon*|100% free|risk free|buy now|"
    "order now|limited offer|limited time offer|cash prize*|lottery|sugar daddy|hot singles|viagra|"
    "cialis".split("|")
)
PROMOTION = WordMatcher(
    "check out my|check my|visit my|subscribe to my|subscribe my|sub to my|my channel|my new channel|"
    "my website|my blog|my page|my profile|click here|click the link|follow me|sub4sub|subscribe back".split(
        "|"
    )
)


def _found(
    pattern: re.Pattern[str], form: Form, skip: Sequence[tuple[int, int]] = ()
) -> list[tuple[re.Match[str], tuple[int, int]]]:
    """Matches of ``pattern`` in ``form`` and their original spans, but none overlapping ``skip``."""
    found = [(m, form.span(*m.span())) for m in islice(pattern.finditer(form.text), MAX_LINKS)]
    return [(m, s) for m, s in found if not any(a < s[1] and s[0] < b for a, b in skip)]


def _names(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return ", ".join(unique[:3]) + (", ..." if len(unique) > 3 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _quote(comment: Normalized, span: tuple[int, int]) -> str:
    return " ".join(comment.original[span[0] : span[1]].split())[:40]


Found = list[tuple[str, str, list[tuple[int, int]]]]


def detect(
    comment: Normalized,
    *,
    allowed_domains: DomainList | None = None,
    author_comment_count: int | None = None,
    weights: Mapping[str, float] = PRIOR_WEIGHTS,
) -> list[Reason]:
    """The reasons that fire for ``comment``, each weighted by ``weights[code]``."""
    links = _found(_URL, comment.plain)
    spans = [s for _, s in links]
    hosts = [_HOST.match(m.group()).group(1).rstrip(".,;:!?").removeprefix("www.") for m, _ in links]
    found = (
        _link_signals(comment, hosts, spans, allowed_domains, author_comment_count)
        + _contact_signals(comment, hosts, spans)
        + _obfuscation_signals(comment)
        + _offer_signals(comment)
    )
    return [Reason(code, float(weights.get(code, 0.0)), detail, spans) for code, detail, spans in found]


def _link_signals(
    comment: Normalized,
    hosts: list[str],
    spans: list[tuple[int, int]],
    allowed_domains: DomainList | None,
    author_comment_count: int | None,
) -> Found:
    """Links: how many, to shorteners, to domains off the site's list, alone, from a new author."""
    if not spans:
        return []
    count = f"{MAX_LINKS}+" if len(spans) == MAX_LINKS else str(len(spans))
    found: Found = [(ReasonCode.LINKS, f"{count} link{'s' * (len(spans) > 1)} ({_names(hosts)})", spans)]
    if len(spans) >= MANY_LINKS:
        found.append((ReasonCode.MANY_LINKS, f"many links ({count})", spans))
    short = [(h, s) for h, s in zip(hosts, spans, strict=True) if h in SHORTENERS]
    if short:
        to = "to a URL shortener" if len(short) == 1 else "to URL shorteners"
        detail = f"{_plural(len(short), 'link')} {to} ({_names([h for h, _ in short])})"
        found.append((ReasonCode.SHORTENER, detail, [s for _, s in short]))
    if not _LETTER.search(_URL.sub(" ", comment.plain.text)):
        found.append((ReasonCode.LINK_ONLY, "nothing but links", spans))
    other = [
        (h, s) for h, s in zip(hosts, spans, strict=True) if allowed_domains and not allowed_domains.allows(h)
    ]
    if other:
        detail = f"links to domains not on the site's list ({_names([h for h, _ in other])})"
        found.append((ReasonCode.UNLISTED_DOMAIN, detail, [s for _, s in other]))
    if author_comment_count is not None and author_comment_count <= NEW_AUTHOR_MAX_COMMENTS:
        detail = f"new author ({_plural(author_comment_count, 'earlier comment')}) posting links"
        found.append((ReasonCode.NEW_AUTHOR_LINKS, detail, spans))
    return found


def _contact_signals(comment: Normalized, hosts: list[str], spans: list[tuple[int, int]]) -> Found:
    """Ways to reach the poster outside the site: e-mail, phone, messenger invitations, DM baits."""
    found: Found = []
    plain = comment.plain
    emails = [s for _, s in _found(_EMAIL, plain)]
    if emails:
        found.append((ReasonCode.EMAIL, "e-mail address", emails))
    phones = [
        s
        for m, s in _found(_PHONE, plain, spans + emails)
        if not _NOT_PHONE.fullmatch(m.group().strip("()")) and not _IPV4.search(m.group())
    ]
    if phones:
        found.append((ReasonCode.PHONE, "phone number", phones))
    apps = _found(_MESSENGER, comment.words)
    names = [
        _APP_NAMES.get(n, n.title()) for n in ((m.group(1) or m.group(2)).replace(" ", "") for m, _ in apps)
    ]
    app_links = [(MESSENGER_HOSTS[h], s) for h, s in zip(hosts, spans, strict=True) if h in MESSENGER_HOSTS]
    if apps or app_links:
        detail = f"{_names(names + [n for n, _ in app_links])} invitation"
        found.append((ReasonCode.MESSENGER, detail, [s for _, s in apps] + [s for _, s in app_links]))
    baits = [s for _, s in _found(_DM_BAIT, comment.words)]
    if baits:
        found.append((ReasonCode.DM_BAIT, "'" + _names([_quote(comment, s) for s in baits]) + "'", baits))
    return found


def _obfuscation_signals(comment: Normalized) -> Found:
    """Text disguised from filters: zero-width characters, look-alike letters, spaced letters."""
    kinds = (
        (ReasonCode.INVISIBLE, "zero-width characters inside words", comment.invisible),
        (ReasonCode.HOMOGLYPHS, "look-alike letters from other alphabets", comment.homoglyphs),
        (ReasonCode.SPACED_LETTERS, "spaced-out letters", comment.spaced),
    )
    return [(code, detail, spans) for code, detail, spans in kinds if spans]


def _offer_signals(comment: Normalized) -> Found:
    """Money offers and self-promotion."""
    found: Found = []
    money = [(m.entry, (m.start, m.end)) for m in MONEY.find(comment)]
    money += [(_quote(comment, s), s) for _, s in _found(_EARNINGS, comment.plain)]
    if money:
        found.append(
            (ReasonCode.MONEY, f"money offer ({_names([e for e, _ in money])})", [s for _, s in money])
        )
    promotion = PROMOTION.find(comment)
    if promotion:
        detail = f"self-promotion ({_names([m.entry for m in promotion])})"
        found.append((ReasonCode.PROMOTION, detail, [(m.start, m.end) for m in promotion]))
    return found
