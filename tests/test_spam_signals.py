"""Spam signals: each names what a moderator should look at and where it is in the comment."""

from __future__ import annotations

import time

from service.normalize import normalize
from service.wordlists import DomainList
from worker.scorers.spam.signals import PRIOR_WEIGHTS, Reason, detect


def reasons(text: str, **kwargs) -> dict[str, Reason]:
    return {r.code: r for r in detect(normalize(text), **kwargs)}


def pointed_at(text: str, reason: Reason) -> list[str]:
    return [text[a:b] for a, b in reason.spans]


class TestLinks:
    def test_shortened_link_in_self_promotion(self) -> None:
        text = "Check out my channel!! subscribe http://bit.ly/xyz"
        found = reasons(text)
        assert set(found) == {"links", "shortener", "promotion"}
        assert found["links"].detail == "1 link (bit.ly)"
        assert found["shortener"].detail == "1 link to a URL shortener (bit.ly)"
        assert pointed_at(text, found["shortener"]) == ["http://bit.ly/xyz"]
        assert found["promotion"].detail == "self-promotion (check out my)"
        assert pointed_at(text, found["promotion"]) == ["Check out my"]

    def test_many_links_and_shorteners(self) -> None:
        found = reasons("see http://bit.ly/a and tinyurl.com/b and www.example.com/c")
        assert found["links"].detail == "3 links (bit.ly, tinyurl.com, example.com)"
        assert found["many_links"].detail == "many links (3)"
        assert found["shortener"].detail == "2 links to URL shorteners (bit.ly, tinyurl.com)"

    def test_a_link_alone(self) -> None:
        assert "link_only" in reasons("gofundme.com/grwmps \ufeff")
        assert "link_only" not in reasons("The full report: https://www.bbc.co.uk/news/uk-1")

    def test_domains_outside_the_site_list(self) -> None:
        allowed = DomainList(["example.com"])
        text = "sources: https://www.example.com/a and http://spam.test.ru/b"
        found = reasons(text, allowed_domains=allowed)
        assert found["unlisted_domain"].detail == "links to domains not on the site's list (spam.test.ru)"
        assert pointed_at(text, found["unlisted_domain"]) == ["http://spam.test.ru/b"]
        assert "unlisted_domain" not in reasons("https://example.com/a", allowed_domains=allowed)
        assert "unlisted_domain" not in reasons(text)  # no list configured: no opinion

    def test_new_author_with_links(self) -> None:
        text = "read this www.example.org"
        assert reasons(text, author_comment_count=0)["new_author_links"].detail == (
            "new author (0 earlier comments) posting links"
        )
        assert "new_author_links" not in reasons(text, author_comment_count=40)
        assert "new_author_links" not in reasons(text)  # unknown author history
        assert "new_author_links" not in reasons("no link here", author_comment_count=0)

    def test_disguised_shortener(self) -> None:
        assert "shortener" in reasons("go to bіt.ly/abc")  # Cyrillic і

    def test_ten_thousand_links_are_cheap(self) -> None:
        """Linear in the links, not quadratic (about 0.02 s here): measured in CPU time, so a busy
        machine's waits do not count."""
        text = " ".join(f"http://bit.ly/{i}" for i in range(10_000))
        start = time.process_time()
        found = reasons(text)
        assert time.process_time() - start < 1.0
        assert found["links"].detail.startswith("100+ links")


class TestContactBaits:
    def test_phone_and_email(self) -> None:
        text = "Call +1 (555) 123-4567 or write to john.doe@gmail.com"
        found = reasons(text)
        assert pointed_at(text, found["phone"]) == ["+1 (555) 123-4567"]
        assert pointed_at(text, found["email"]) == ["john.doe@gmail.com"]

    def test_counts_and_dates_are_not_phone_numbers(self) -> None:
        for text in ("1000000000 views", "it cost 100.000.000 euros", "in 2013 2014 2015", "1,884,034,783"):
            assert "phone" not in reasons(text), text

    def test_messenger_invitations(self) -> None:
        assert reasons("Add me on WhatsApp +44 7700 900123")["messenger"].detail == "WhatsApp invitation"
        assert reasons("telegram: @cashking")["messenger"].detail == "Telegram invitation"
        assert reasons("join t.me/freemoney")["messenger"].detail == "Telegram invitation"
        assert reasons("sn@pchat me babe")["messenger"].detail == "Snapchat invitation"
        assert "messenger" not in reasons("The video was first posted on Telegram, officials said.")

    def test_dm_me(self) -> None:
        assert reasons("DM me for details")["dm_bait"].detail == "'DM me'"
        assert "dm_bait" not in reasons("Call me old-fashioned, but I liked it")


class TestObfuscationAndMoney:
    def test_obfuscation_is_a_signal_in_itself(self) -> None:
        text = "fr\u200bee vіagra, f r e e  m o n e y"
        found = reasons(text)
        assert found["invisible"].detail == "zero-width characters inside words"
        assert found["homoglyphs"].detail == "look-alike letters from other alphabets"
        assert pointed_at(text, found["homoglyphs"]) == ["vіagra"]
        assert pointed_at(text, found["spaced_letters"]) == ["f r e e", "m o n e y"]

    def test_money_offers(self) -> None:
        text = "m@ke m0ney online: $500 a day"
        found = reasons(text)
        assert found["money"].detail == "money offer (make money*, $500 a day)"
        assert pointed_at(text, found["money"]) == ["m@ke m0ney", "$500 a day"]


def test_a_normal_news_comment_has_no_reasons() -> None:
    assert (
        reasons("I disagree with the council's decision, but the reporting was fair. 2,500 people came.")
        == {}
    )


def test_weights_come_from_the_table_given() -> None:
    found = reasons("DM me", weights={**PRIOR_WEIGHTS, "dm_bait": 0.25})
    assert found["dm_bait"].weight == 0.25
    assert reasons("DM me")["dm_bait"].weight == PRIOR_WEIGHTS["dm_bait"]


def test_ip_addresses_in_signatures_are_not_phone_numbers():
    assert "phone" not in reasons("Reverted by 89.205.38.27 and 70.100.229.154  04:28, 9 November 2005 (UTC)")
    assert "phone" in reasons("Call me on +1 (555) 301-2288 tonight")
