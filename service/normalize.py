"""Undo the tricks spammers use to hide words from filters, remembering where each character came from.

``normalize(text)`` returns forms of the text, each with a map from its characters back to offsets
in the original, so that whatever a check finds in a form is reported as a span of the original:

* ``plain``: Unicode NFKC and casefolded; invisible and format characters removed (zero-width
  spaces and joiners, soft hyphens, byte-order marks, direction marks, tags, variation selectors,
  Hangul fillers, control characters, lone surrogates); accents and stacked marks on Latin letters
  dropped; look-alike letters (Cyrillic, Greek, Armenian, Latin small capitals) turned into Latin
  ones inside words that mix them with Latin letters, or in comments written only in look-alikes.
  Links, e-mail addresses, phone numbers and the content model read this form.
* ``words``: ``plain`` with spaced-out letters joined (``f r e e`` → ``free``), leetspeak undone
  inside words that contain a letter (``fr33`` → ``free``, ``c@sh`` → ``cash``; ``1``, ``!`` and
  ``|`` become ``1``, which word lists read as ``i`` or ``l``), and runs of three or more equal
  letters squeezed to two. Numbers and links stay intact in ``plain``. Word lists read this form,
  and ``short`` (runs squeezed to one letter; ``None`` when nothing was squeezed), so that both
  ``freeeee`` → ``free`` and ``viaaagra`` → ``viagra`` are found.

Bounded cost: only the first ``MAX_CHARS`` visible characters found in the first ``MAX_SCAN``
characters are analysed (``truncated`` says when there was more), and every step is one linear
pass, so a megabyte of zero-width characters costs no more than a 100,000-character scan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

MAX_CHARS = 20_000
MAX_SCAN = 100_000

_INVISIBLE = (
    "\x00-\x08\x0e-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\ud800-\udfff"
    "\U000e0000-\U000e0fff"
)
_VISIBLE_RUN = re.compile(f"[^{_INVISIBLE}]+")
_LOOKALIKES = "аеёкмнопрстухьѕјһԁԛԝӏүіїαβγεηικνορτυχωօսհոցքıɑɡᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"
_HOMOGLYPHS = str.maketrans(
    _LOOKALIKES, "aeekmhonpctyxbsjhdqwlyiiabyenikvoptuxwouhngpiagabcdefghijklmnoprstuvwyz"
)
_HAS_LOOKALIKE = re.compile(f"[{_LOOKALIKES}]")
_FOREIGN_LETTER = re.compile(f"[^\\W\\d_a-z{_LOOKALIKES}]")  # a letter that is neither Latin nor look-alike
_LATIN_LETTER = re.compile("[a-z]")
_WORD = re.compile(r"\w+")
_SPACED = re.compile(r"(?<![\w@$])(?:[^\W_][ .\-*~·•]){2,}[^\W_](?![\w@$])")
_LETTER = re.compile(r"[^\W\d_]")
_LEET_TOKEN = re.compile(r"[\w@$!|]+")
_LEET = str.maketrans("0134578@$!|9", "o1eastbas11g")
_LEET_CHARS = re.compile(r"[0-9@$!|]")
_RUN = re.compile(r"([^\W\d_])\1{2,}")


@dataclass(frozen=True)
class Form:
    """A normalised text; ``offsets[i]`` is the original offset that ``text[i]`` came from."""

    text: str
    offsets: list[int]
    run_ends: dict[int, int] = field(default_factory=dict)  # where a letter cut from a run ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (non-empty)."""
        return self.offsets[start], self.run_ends.get(end - 1, self.offsets[end - 1] + 1)


@dataclass(frozen=True)
class Normalized:
    original: str
    plain: Form
    words: Form
    short: Form | None
    invisible: list[tuple[int, int]]  # original spans of invisible characters hidden inside words
    homoglyphs: list[tuple[int, int]]  # original spans of words written with look-alike letters
    spaced: list[tuple[int, int]]  # original spans of words spelt with 4+ spaced-out letters
    truncated: bool

    @property
    def forms(self) -> list[Form]:
        """The forms word lists search: ``words``, and ``short`` when it exists."""
        return [self.words] if self.short is None else [self.words, self.short]


@lru_cache(maxsize=8192)
def _fold(c: str) -> tuple[str, bool]:
    """One character's NFKC casefold, accents stripped from Latin letters; and whether it is a mark."""
    category = unicodedata.category(c)
    if category[0] == "C" and category != "Co" and not c.isspace():
        return "", False
    s = unicodedata.normalize("NFKC", c).casefold()
    if not s.isascii():
        stripped = "".join(ch for ch in unicodedata.normalize("NFD", s) if not unicodedata.combining(ch))
        if stripped and stripped.isascii():
            s = stripped
    return s, category in ("Mn", "Me")


def normalize(text: str) -> Normalized:
    scanned = text[:MAX_SCAN]
    pieces: list[str] = []
    offsets: list[int] = []
    invisible: list[tuple[int, int]] = []
    last_ascii = truncated = False
    previous_end = None
    for run in _VISIBLE_RUN.finditer(scanned):
        start, end = run.span()
        if previous_end is not None and start > previous_end:
            if scanned[previous_end - 1].isalnum() and scanned[start].isalnum():
                invisible.append((previous_end, start))
        previous_end = end
        room = MAX_CHARS - len(offsets)
        chunk = run.group()
        if room < len(chunk):
            truncated = True
            if room <= 0:
                break
        if chunk.isascii():
            pieces.append(chunk[:room].lower())
            offsets.extend(range(start, start + min(room, len(chunk))))
            last_ascii = True
            continue
        for i, c in enumerate(chunk[:room], start):
            s, mark = _fold(c)
            if s and not (mark and last_ascii):  # marks stacked on Latin letters are dropped
                pieces.append(s)
                offsets.extend([i] * len(s))
                last_ascii = s.isascii()
    truncated = truncated or len(text) > MAX_SCAN
    plain, homoglyphs = _unmask("".join(pieces)[:MAX_CHARS], offsets[:MAX_CHARS])
    joined, spaced = _join_spaced(plain)
    leet = Form(_LEET_TOKEN.sub(_unleet, joined.text), joined.offsets)
    words, short = _squeeze(leet, 2), _squeeze(leet, 1)
    return Normalized(
        text,
        plain,
        words,
        short if short.text != words.text else None,
        invisible,
        homoglyphs,
        spaced,
        truncated,
    )


def _unmask(text: str, offsets: list[int]) -> tuple[Form, list[tuple[int, int]]]:
    """Turn look-alike letters Latin in disguised words; returns the form and those words' spans."""
    if not _HAS_LOOKALIKE.search(text):
        return Form(text, offsets), []
    form = Form(text, offsets)
    foreign = _FOREIGN_LETTER.search(text) is not None
    chars = list(text)
    spans = []
    for word in _WORD.finditer(text):
        w = word.group()
        if _HAS_LOOKALIKE.search(w) and (_LATIN_LETTER.search(w) or not foreign):
            chars[word.start() : word.end()] = w.translate(_HOMOGLYPHS)
            spans.append(form.span(*word.span()))
    return Form("".join(chars), offsets), spans


def _join_spaced(form: Form) -> tuple[Form, list[tuple[int, int]]]:
    pieces, offsets, spans, position = [], [], [], 0
    for m in _SPACED.finditer(form.text):
        units = m.group()[::2]
        if len(_LETTER.findall(units)) < 2:
            continue
        pieces.append(form.text[position : m.start()])
        offsets.extend(form.offsets[position : m.start()])
        pieces.append(units)
        offsets.extend(form.offsets[m.start() : m.end() : 2])
        position = m.end()
        if len(units) >= 4:
            spans.append(form.span(*m.span()))
    if not position:
        return form, []
    pieces.append(form.text[position:])
    offsets.extend(form.offsets[position:])
    return Form("".join(pieces), offsets), spans


def _unleet(token: re.Match[str]) -> str:
    t = token.group()
    if not _LEET_CHARS.search(t):
        return t
    lead = len(t) - len(t.lstrip("@!|"))
    core = t[lead:].rstrip("@$!|")
    if not _LETTER.search(core):
        return t
    return t[:lead] + core.translate(_LEET) + t[lead + len(core) :]


def _squeeze(form: Form, keep: int) -> Form:
    """Runs of three or more equal letters cut to ``keep`` letters."""
    pieces, offsets, run_ends, position = [], [], {}, 0
    for m in _RUN.finditer(form.text):
        cut = m.start() + keep
        pieces.append(form.text[position:cut])
        offsets.extend(form.offsets[position:cut])
        run_ends[len(offsets) - 1] = form.span(*m.span())[1]
        position = m.end()
    if not position:
        return form
    pieces.append(form.text[position:])
    offsets.extend(form.offsets[position:])
    return Form("".join(pieces), offsets, run_ends)
