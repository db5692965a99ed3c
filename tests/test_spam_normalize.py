"""Normalisation undoes obfuscation and still points back at the original text."""

from __future__ import annotations

import time

from service.normalize import MAX_CHARS, Form, normalize


def original(text: str, form: Form, word: str) -> str:
    """The original text behind the first occurrence of ``word`` in a normalised form."""
    start = form.text.index(word)
    a, b = form.span(start, start + len(word))
    return text[a:b]


def assert_consistent(form: Form, text: str) -> None:
    assert len(form.offsets) == len(form.text)
    assert all(0 <= o < len(text) for o in form.offsets)
    assert form.offsets == sorted(form.offsets)


class TestObfuscationUndone:
    def test_zero_width_characters_are_removed_and_reported(self) -> None:
        text = "fr\u200bee m\u2060oney"
        n = normalize(text)
        assert n.words.text == "free money"
        assert [text[a:b] for a, b in n.invisible] == ["\u200b", "\u2060"]
        assert original(text, n.words, "money") == "m\u2060oney"

    def test_look_alike_letters_become_latin_inside_latin_words(self) -> None:
        text = "buy vіagra now"  # Cyrillic і
        n = normalize(text)
        assert n.words.text == "buy viagra now"
        assert [text[a:b] for a, b in n.homoglyphs] == ["vіagra"]

    def test_real_cyrillic_text_is_left_alone(self) -> None:
        n = normalize("Привет, как дела? Сор")
        assert n.plain.text == "привет, как дела? сор"
        assert n.homoglyphs == []

    def test_leetspeak_is_undone_in_words_but_not_in_numbers_or_links(self) -> None:
        n = normalize("FR33 M0NEY, c@sh and ca$h: $500 in 2013 at http://bit.ly/X7")
        assert n.words.text.startswith("free money, cash and cash: $500 in 2013")
        assert "$500 in 2013 at http://bit.ly/x7" in n.plain.text

    def test_spaced_out_letters_are_joined(self) -> None:
        text = "get f r e e  m o n e y now"
        n = normalize(text)
        assert n.words.text == "get free  money now"
        assert [text[a:b] for a, b in n.spaced] == ["f r e e", "m o n e y"]
        assert original(text, n.words, "money") == "m o n e y"

    def test_short_acronyms_are_not_taken_for_spacing(self) -> None:
        assert normalize("The U.S.A. and the U.K.").spaced == []

    def test_repeated_letters_are_squeezed_and_spans_cover_the_run(self) -> None:
        text = "freeeee viaaagra"
        n = normalize(text)
        assert n.words.text == "free viaagra"
        assert n.short is not None and n.short.text == "fre viagra"
        assert original(text, n.words, "free") == "freeeee"
        assert original(text, n.short, "viagra") == "viaaagra"

    def test_styled_letters_accents_and_marks_fold_to_plain_latin(self) -> None:
        n = normalize("ＦＲＥＥ 𝐟𝐫𝐞𝐞 ﬁnance café Z\u0351\u0352algo")
        assert n.plain.text == "free free finance cafe zalgo"

    def test_every_form_maps_back_to_the_original(self) -> None:
        text = "Ｃheck\u200b my ch@nnel!!! f r e e  v1agra ﬁnance Сheap"
        n = normalize(text)
        for form in (n.plain, n.words, n.short):
            if form is not None:
                assert_consistent(form, text)


class TestBadInput:
    def test_a_megabyte_of_zero_width_characters_is_cheap(self) -> None:
        start = time.process_time()  # CPU time: a busy machine's waits do not count
        n = normalize("\u200b" * 1_000_000 + "hello")
        assert time.process_time() - start < 0.5
        assert n.truncated
        assert n.plain.text == ""

    def test_lone_surrogates_are_dropped(self) -> None:
        n = normalize("bad \ud800text\udfff here")
        assert n.plain.text == "bad text here"
        n.words.text.encode("utf-8")  # valid Unicode again

    def test_long_input_is_capped_at_max_chars(self) -> None:
        start = time.process_time()
        n = normalize("é" * 200_000)
        assert time.process_time() - start < 1.0
        assert n.truncated
        assert len(n.plain.text) == MAX_CHARS

    def test_empty_text(self) -> None:
        n = normalize("")
        assert (n.plain.text, n.words.text, n.short, n.truncated) == ("", "", None, False)
