"""Which language a comment is written in, offline (py3langid's model ships in its package).

A news site writes in its own language, so detection leans on it: the site's language wins
whenever the detector gives it a probability of at least ``SITE_PRIOR`` (about 0.5% of English
comments would otherwise read as Hungarian or Latvian), and another language is named only when
it is the detector's first choice with at least ``MIN_CONFIDENCE``. The detector chooses among the
languages with an ISO 639-1 code (the model's extra creoles and dialects, such as Nigerian Pidgin
or Walloon, are where English slang landed). A text with too few words to tell (``MIN_WORDS``) or
no clear first choice gets ``None``, and the policy reads it in the site's language. Measured in
``benchmarks/language.py``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

SITE_PRIOR = 0.02
MIN_CONFIDENCE = 0.15
MIN_WORDS = 2  # words of two or more letters
_WORD = re.compile(r"[^\W\d_]{2,}")
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|#", re.IGNORECASE)
MACRO = {"nn": "no", "nb": "no"}  # Perspective and the models know Norwegian as one language
# Perspective's and BCP 47's names for languages, as a client may send them ("pt-BR", "zh_Hant").
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


@cache
def _identifier() -> Any:
    from py3langid.langid import LanguageIdentifier, MODEL_FILE  # noqa: I001

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted({code for code in identifier.nb_classes if len(code) == 2}))
    return identifier


def detect(text: str, expected: str = "en") -> str | None:
    """The language ``text`` is written in, ``expected`` (the site's) when that is plausible, or
    ``None`` when the text is too short or too mixed to tell."""
    text = _NOISE.sub(" ", text)
    if len(_WORD.findall(text)) < MIN_WORDS:
        return None
    identifier = _identifier()
    code, confidence = identifier.classify(text)
    if code == expected and confidence >= SITE_PRIOR:  # most comments: no need to rank them all
        return expected
    ranked = identifier.rank(text)
    probability = dict(ranked)
    if probability.get(expected, 0.0) >= SITE_PRIOR:
        return expected
    code, confidence = ranked[0]
    return MACRO.get(code, code) if confidence >= MIN_CONFIDENCE else None


def primary(tag: str) -> str | None:
    """A language tag's primary subtag, lower-cased (``"pt-BR"`` → ``"pt"``), or None if not a tag."""
    tag = tag.strip()
    if not _TAG.match(tag):
        return None
    code = re.split(r"[-_]", tag)[0].lower()
    return MACRO.get(code, code)
