"""Every reason code a comment can carry (``reasons.code``): what the toxicity model, the word
lists, the spam signals, repetition and Akismet say about it. One enum, so a code is spelled once;
the values are stored in the database, shown to moderators and returned by the API, so they never
change."""

from __future__ import annotations

import enum


class ReasonCode(enum.StrEnum):
    # the toxicity model and the site's word lists
    TOXIC_SPAN = "toxic_span"  # the words behind a toxicity score: they mark text, not a reason of their own
    BANNED_WORD = "banned_word"
    SUSPECT_WORD = "suspect_word"
    # links (worker/scorers/spam/signals.py)
    LINKS = "links"
    MANY_LINKS = "many_links"
    SHORTENER = "shortener"
    LINK_ONLY = "link_only"
    UNLISTED_DOMAIN = "unlisted_domain"
    NEW_AUTHOR_LINKS = "new_author_links"
    # contact baits and evasion
    PHONE = "phone"
    EMAIL = "email"
    MESSENGER = "messenger"
    DM_BAIT = "dm_bait"
    INVISIBLE = "invisible"
    HOMOGLYPHS = "homoglyphs"
    SPACED_LETTERS = "spaced_letters"
    MONEY = "money"
    PROMOTION = "promotion"
    # repetition and bursts (worker/recent.py)
    REPEATED_BY_AUTHOR = "repeated_by_author"
    COPIED_ACROSS_AUTHORS = "copied_across_authors"
    AUTHOR_BURST = "author_burst"
    IP_BURST = "ip_burst"
    # Akismet's verdict (worker/scorers/spam/akismet.py)
    AKISMET = "akismet"
    # the worker failed to score the comment, time after time (worker/tasks.py): a person decides
    NOT_SCORED = "not_scored"


# Not spam signals: word-list hits and toxic spans are weighed by the policy on their own.
NOT_SPAM_SIGNALS = frozenset(
    {ReasonCode.BANNED_WORD, ReasonCode.SUSPECT_WORD, ReasonCode.TOXIC_SPAN, ReasonCode.NOT_SCORED}
)
# Readers link to sources; links alone make a comment look like spam to the content model, so
# they may queue it for a person but never reject it on their own.
LINK_REASONS = frozenset(
    {
        ReasonCode.LINKS,
        ReasonCode.MANY_LINKS,
        ReasonCode.SHORTENER,
        ReasonCode.LINK_ONLY,
        ReasonCode.UNLISTED_DOMAIN,
        ReasonCode.NEW_AUTHOR_LINKS,
    }
)
