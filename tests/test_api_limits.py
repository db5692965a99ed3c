"""Rate limits per site key and per author answer 429 with Retry-After in the API's error shape."""

from __future__ import annotations

from service.api.limits import site_key
from tests.conftest import SiteClient
from tests.test_api_errors import assert_error


def site_for(app_factory, key, **limits):
    from tests.conftest import SiteClient

    return SiteClient(app_factory(**limits).test_client(), key)


def test_posting_past_the_author_limit_is_429(app_factory, site_key):
    site = site_for(app_factory, site_key, rate_limit_author="2/minute")
    assert [site.post_comment(f"Comment {n}").status_code for n in range(2)] == [202, 202]

    refused = site.post_comment("One too many")
    assert_error(refused, 429, code="rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other_author = site.post_comment("Someone else", author={"id": "reader-2"})
    assert other_author.status_code == 202


def test_the_site_key_limit_covers_every_route(app_factory, site_key):
    site = site_for(app_factory, site_key, rate_limit_site="3/minute")
    site.post_comment("One")
    answers = [site.client.get("/api/v1/comments/1", headers=site.headers()).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_site_keys_are_hashed_before_they_reach_redis(app):
    with app.test_request_context(headers={"Authorization": "Bearer stet_secret"}):
        assert "stet_secret" not in site_key()


def test_limits_slide_so_a_window_boundary_lets_no_burst_through(app_factory, site_key):
    """A fixed window restarts when it ends and would take three more at once here (20 comments in
    13 s got through a 10-per-minute limit that way); a moving window still counts the last two."""
    import time

    site = site_for(app_factory, site_key, rate_limit_author="3 per 4 second")
    assert site.post_comment("One").status_code == 202
    time.sleep(3.4)
    assert [site.post_comment(f"Two {n}").status_code for n in range(2)] == [202, 202]
    time.sleep(1.0)  # the first comment's window has ended; the last two are 1 s old
    assert [site.post_comment(f"Three {n}").status_code for n in range(3)] == [202, 429, 429]


def test_a_comment_refused_for_its_authors_limit_uses_none_of_its_sites(app_factory, site_key):
    site = site_for(app_factory, site_key, rate_limit_author="1/minute", rate_limit_site="3/minute")
    assert site.post_comment("One").status_code == 202
    refused = [site.post_comment(f"Again {n}") for n in range(3)]
    assert {r.status_code for r in refused} == {429}
    assert refused[0].get_json()["error"]["message"] == "rate limit exceeded: 1 per 1 minute"
    # The site has used one of its three: two more authors get through, the next one does not.
    others = [site.post_comment("Hi", author={"id": f"reader-{n}"}).status_code for n in range(2, 5)]
    assert others == [202, 202, 429]


def test_posting_past_the_reader_address_limit_is_429(app_factory, site_key):
    site = site_for(app_factory, site_key, rate_limit_ip="2/minute")
    address = "198.51.100.7"
    answers = [
        site.post_comment(f"From one address {n}", author={"id": f"reader-{n}"}, ip=address).status_code
        for n in range(3)
    ]
    assert answers == [202, 202, 429]
    assert site.post_comment("Another address", ip="198.51.100.8").status_code == 202


def test_with_redis_away_posting_is_still_limited_in_memory(app_factory, site_key, monkeypatch):
    """Flask-Limiter counts in memory while its Redis is away; so does the comment route's one-trip
    count, and it leaves Redis alone for a few seconds rather than waiting on it at every post."""
    from service.api import limits

    monkeypatch.setattr(limits, "_redis_away_until", 0.0)
    offline = app_factory(redis_url="redis://127.0.0.1:1/0", rate_limit_author="2/minute")
    site = SiteClient(offline.test_client(), site_key)
    answers = [site.post_comment(f"Comment {n} while Redis is away").status_code for n in range(3)]
    assert answers == [202, 202, 429]
    assert limits._redis_away_until > 0


def test_a_refused_request_leaves_no_reply_behind_for_the_next_one(app_factory, site_key, broker):
    """The count is sent before the request is read and its reply read after: requests refused for
    another reason in between (bad key, bad body) take their reply with them, a Redis that forgot the
    script (restarted) is given it again, and the limit still comes first, as if asked first."""
    site = site_for(app_factory, site_key, rate_limit_author="3/minute")
    bad_key = site.client.post(
        "/api/v1/comments", json={"body": "x"}, headers={"Authorization": "Bearer stet_not_a_key"}
    )
    assert_error(bad_key, 401, code="unauthorized")
    assert_error(site.post_comment(""), 422, field="body")  # counted: the reader did post
    broker.script_flush()
    assert [site.post_comment(f"Comment {n}").status_code for n in (2, 3)] == [202, 202]
    assert_error(site.post_comment("A fourth"), 429, code="rate_limited")
    assert_error(site.post_comment(""), 429, code="rate_limited")  # past the limit, whatever it says
    assert site.post_comment("Another reader", author={"id": "reader-9"}).status_code == 202
