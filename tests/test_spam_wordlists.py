"""A site's word lists: matched after normalisation, on whole words, reported on the original text."""

from __future__ import annotations

import random
import statistics
import string
import time

import pytest

from service.normalize import normalize
from service.wordlists import DomainList, WordLists, WordMatcher

LISTS = WordLists(
    banned=["viagra", "*casino*", "free money", "idiot"],
    suspect=["loan*", "crypto"],
    allowed_domains=["example.com", "*.news.example"],
)


def banned(text: str) -> list[tuple[str, str]]:
    """(entry, original text matched) for each banned match in ``text``."""
    return [(m.entry, m.text) for m in LISTS.banned.find(normalize(text))]


@pytest.mark.parametrize(
    "text, matched",
    [
        ("Buy VIAGRA today", "VIAGRA"),
        ("buy v 1 a g r a", "v 1 a g r a"),
        ("buy vіagra", "vіagra"),  # Cyrillic і
        ("buy v\u200biagra", "v\u200biagra"),
        ("buy viaaagra", "viaaagra"),
        ("buy V1AGRA", "V1AGRA"),
    ],
)
def test_disguised_banned_word_is_found_with_its_original_text(text: str, matched: str) -> None:
    assert banned(text) == [("viagra", matched)]


def test_match_span_points_into_the_original_comment() -> None:
    text = "Great story.\u200b\u200b Now buy ＶＩＡＧＲＡ here"
    [match] = LISTS.banned.find(normalize(text))
    assert text[match.start : match.end] == "ＶＩＡＧＲＡ" == match.text


def test_wildcards_and_phrases() -> None:
    assert banned("best onlinecasinos here") == [("*casino*", "onlinecasinos")]
    assert banned("get FR33 M0NEY") == [("free money", "FR33 M0NEY")]
    assert banned("get free-money") == [("free money", "free-money")]
    assert banned("f r e e  m o n e y") == [("free money", "f r e e  m o n e y")]


def test_only_whole_words_match() -> None:
    assert banned("idiotic idiots, a freemoneyish idea") == []
    assert WordMatcher(["ass"]).find(normalize("a classic assistant")) == []


def test_leetspeak_one_reads_as_i_or_l() -> None:
    assert banned("you 1d10t") == [("idiot", "1d10t")]
    assert WordMatcher(["kill"]).find(normalize("kiii")) == []


def test_banned_and_suspect_are_separate() -> None:
    comment = normalize("Loans and crypto, you idiot")
    assert [m.text for m in LISTS.banned.find(comment)] == ["idiot"]
    assert [m.text for m in LISTS.suspect.find(comment)] == ["Loans", "crypto"]


def test_entries_that_cannot_be_bounded_are_refused() -> None:
    with pytest.raises(ValueError, match="longer than"):
        WordMatcher(["x" * 101])
    with pytest.raises(ValueError, match="without letters"):
        WordMatcher(["**"])
    with pytest.raises(ValueError, match="more than one"):
        WordMatcher(["a*b*c"])


def test_empty_lists_match_nothing() -> None:
    lists = WordLists()
    assert not lists.banned and not lists.allowed_domains
    assert lists.banned.find(normalize("anything")) == []


def test_allowed_domains() -> None:
    allowed = DomainList(["Example.com", "*.news.example"])
    assert allowed.allows("example.com") and allowed.allows("www.example.com")
    assert not allowed.allows("shop.example.com")
    assert allowed.allows("news.example") and allowed.allows("city.news.example")
    assert not allowed.allows("fakenews.example") and not allowed.allows("example.com.evil.net")


def _entries(n: int, rng: random.Random) -> list[str]:
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))) for _ in range(n)]
    return [w[:4] + "*" if i % 10 == 0 else f"*{w}*" if i % 20 == 1 else w for i, w in enumerate(words)]


def test_a_thousand_entries_take_well_under_a_millisecond_per_comment() -> None:
    rng = random.Random(0)
    matcher = WordMatcher(_entries(1000, rng))
    comment = normalize(
        "I have lived in this town for thirty years and the council has never once asked us what we want "
        "from the new bus routes. The article is fair, but it leaves out the cuts to the night service, "
        "which hit shift workers hardest. Will there be a public meeting before the vote next month?"
    )
    times = []
    for _ in range(50):
        start = time.perf_counter()
        matcher.find(comment)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.001


def test_adversarial_words_do_not_backtrack_catastrophically() -> None:
    matcher = WordMatcher(["*ab*x*", "*a*z", "b*y"] + _entries(1000, random.Random(1)))
    for text in ("ab" * 5000, " ".join(["ab" * 32] * 150), " ".join(["abababa"] * 1250)):
        start = time.process_time()  # CPU time: a busy machine's waits do not count
        matcher.find(normalize(text))
        assert time.process_time() - start < 0.2
