"""Comments in the newsroom's own language: detected, stored, shown, and never published on the
strength of a model that was not validated for their language."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from service import accounts, language, policy
from service.config import Settings
from service.models import Comment, Site, Status
from service.reasons import ReasonCode
from tests.conftest import stet, wait_until
from tests.test_dashboard import Dashboard
from tests.test_perspective import analyze
from worker.pipeline import Pipeline, decide_pending

# Ordinary abuse a Spanish-, Portuguese- or Italian-language reader might post, and civil remarks.
ABUSE = {
    "es": "Ojalá alguien le pegue un tiro a ese periodista mentiroso",
    "pt": "Esses imigrantes imundos deviam ser expulsos todos do país",
    "it": "Sei un idiota totale e dovresti sparire da questo giornale",
}
CIVIL = {
    "de": "Vielen Dank für den ausführlichen Artikel über den neuen Haushalt der Stadt.",
    "fr": "Merci pour cet article très clair sur le nouveau budget de la ville.",
    "es": "Gracias por el artículo tan claro sobre el nuevo presupuesto de la ciudad.",
    "pt": "Obrigado pelo artigo tão claro sobre o novo orçamento da cidade.",
    "en": "Thanks for the clear explanation of the new city budget.",
}


@pytest.mark.parametrize("code, text", [*CIVIL.items(), *ABUSE.items()])
def test_the_language_of_a_sentence_is_detected(code, text):
    assert language.detect(text) == code
    assert language.detect(text, expected=code) == code


def test_a_text_too_short_to_tell_is_none_and_the_site_language_wins_when_plausible():
    assert language.detect("ok") is None
    assert language.detect("@reader https://example.com 👍") is None
    # "Danke schön" could be German only; "gut gemacht" on a German site stays German
    assert language.detect("gut gemacht", expected="de") == "de"


def test_language_tags_are_read_as_clients_send_them():
    assert language.primary("pt-BR") == "pt"
    assert language.primary("zh_Hant") == "zh"
    assert language.primary("EN") == "en"
    assert language.primary("not a tag!") is None


THRESHOLDS = policy.Thresholds(0.08, 0.97)


def test_a_comment_in_an_unvalidated_language_is_never_decided_on_scores_alone():
    clean = {"toxicity": 0.01, "threat": 0.0}
    outcome = policy.decide(clean, THRESHOLDS, unvalidated_language="es")
    assert outcome.status == Status.QUEUED
    assert outcome.category == "language"
    assert outcome.reason.startswith("language 'es' is not scored automatically: a person decides")
    dangerous = {"toxicity": 0.99, "threat": 0.99}
    held = policy.decide(dangerous, THRESHOLDS, unvalidated_language="es")
    assert (held.status, held.category) == (Status.QUEUED, "threat")
    assert "not scored automatically" in held.reason


def test_a_site_may_publish_what_the_model_finds_nothing_in_but_never_rejects_on_scores():
    approving = policy.Thresholds(0.08, 0.97, unvalidated_language="approve")
    assert policy.decide({"toxicity": 0.01}, approving, unvalidated_language="pt").status == Status.APPROVED
    threat = policy.decide({"toxicity": 0.99, "threat": 0.99}, approving, unvalidated_language="pt")
    assert threat.status == Status.QUEUED


def test_word_lists_and_spam_evidence_still_decide_in_every_language():
    banned = policy.Reason(ReasonCode.BANNED_WORD, 0.0, "banned word: 'x'")
    outcome = policy.decide({"toxicity": 0.01}, THRESHOLDS, [banned], unvalidated_language="es")
    assert outcome.status == Status.REJECTED
    with pytest.raises(ValueError, match="unvalidated_language"):
        policy.Thresholds(0.08, 0.97, unvalidated_language="reject")


def _decide_in_process(settings, broker, db, ids):  # type: ignore[no-untyped-def]
    """What the worker does with these pending comments, here in the test's process."""
    assert decide_pending(ids, Pipeline(settings, broker), db, settings) == len(ids)


def test_the_api_shows_each_comments_language_once_the_worker_has_read_it(site, settings, broker, db):
    german = site.post_comment(CIVIL["de"]).get_json()
    assert german["status"] == "pending" and german["language"] is None  # the API only saves it
    short = site.post_comment("Top!", external_id="c-2").get_json()["id"]
    _decide_in_process(settings, broker, db, [german["id"], short])
    assert site.get_comment(german["id"]).get_json()["language"] == "de"
    assert site.get_comment(short).get_json()["language"] is None  # too short to tell


def test_a_sites_language_is_set_by_an_admin_and_checked(db):
    with db.session() as session:
        site, _key = accounts.create_site(session, "Tagesblatt")
        accounts.set_language(session, site, "de-AT", "approve")
        assert (site.language, site.unvalidated_language) == ("de", "approve")
        with pytest.raises(accounts.AccountError, match="ISO 639-1"):
            accounts.set_language(session, site, "German")
        with pytest.raises(accounts.AccountError, match="other languages"):
            accounts.set_language(session, site, "de", "reject")


def test_stet_site_create_takes_the_language(runner, db):
    result = runner("site", "create", "Le Quotidien", "--language", "fr")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        assert session.scalar(select(Site.language).where(Site.name == "Le Quotidien")) == "fr"


def test_stet_score_says_the_language_and_whether_the_model_is_validated_for_it(settings):
    lines = "".join(json.dumps({"id": i, "text": CIVIL[code]}) + "\n" for i, code in enumerate(("en", "es")))
    result = stet(settings, "score", "-", "--no-spam", input=lines)
    assert result.returncode == 0, result.stderr

    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["language"], o["language_validated"]) for o in out] == [("en", True), ("es", False)]


def test_perspective_detects_the_language_and_refuses_only_what_the_scorer_cannot_read(app_factory, site_key):
    client = app_factory(scorers=Settings().scorers).test_client()
    body = {"comment": {"text": CIVIL["es"]}, "requestedAttributes": {"TOXICITY": {}}}
    answer = analyze(client, body, site_key)
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["detectedLanguages"] == ["es"]
    assert answer.get_json()["languages"] == ["es"]
    for tag in ("de", "fr", "pt-BR", "es"):  # Coral sends its tenant's locale
        assert analyze(client, {**body, "languages": [tag]}, site_key).status_code == 200
    refused = analyze(client, {**body, "languages": ["sw"]}, site_key)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["message"] == (
        "Attribute TOXICITY does not support request languages: sw"
    )


@pytest.mark.worker
def test_abuse_in_a_language_stet_cannot_validate_is_never_published(site, db, worker_factory):
    """Real worker, default scorer: Spanish, Portuguese and Italian abuse waits for a person, and
    the queue says why; civil English and German comments are still published."""
    worker_factory(scorers=Settings().scorers).start()
    ids = {code: site.post_comment(text).get_json()["id"] for code, text in ABUSE.items()}
    civil = site.post_comment(CIVIL["en"]).get_json()["id"]
    german = site.post_comment(CIVIL["de"]).get_json()["id"]  # German is validated: decided alone
    french = site.post_comment(CIVIL["fr"]).get_json()["id"]  # French is not (yet)
    every = [*ids.values(), civil, german, french]
    wait_until(lambda: all(site.status(c) != "pending" for c in every), 60)
    for code, comment_id in ids.items():
        body = site.get_comment(comment_id).get_json()
        assert body["language"] == code
        assert body["status"] == "queued", body
        assert f"language {code!r} is not scored automatically" in body["decision"]["reason"]
    assert site.status(civil) == "approved"
    assert site.status(german) == "approved"
    body = site.get_comment(french).get_json()
    assert body["status"] == "queued" and "language 'fr'" in body["decision"]["reason"]
    with db.session() as session:
        assert session.scalar(select(Comment.language).where(Comment.id == civil)) == "en"


def test_the_volume_report_shows_the_language_mix_and_the_queue_filters_by_language(
    site, client, site_key, make_user, db, settings, broker
):
    ids = [
        site.post_comment(text).get_json()["id"]
        for text in (CIVIL["en"], "Great piece, thank you for writing it.", CIVIL["de"], "Top!")
    ]
    _decide_in_process(settings, broker, db, ids)
    report = client.get("/api/v1/reports/volume", headers={"Authorization": f"Bearer {site_key}"}).get_json()
    table = report["tables"]["languages"]
    assert table["columns"] == ["Language", "Comments", "Share", "Waiting for a person"]
    # "Top!" is too short to tell: it counts in the site's language, English
    assert [row[:3] for row in table["rows"]] == [["en", 3, 0.75], ["de", 1, 0.25]]

    with db.session() as session:  # all in the queue, whatever the model said
        session.execute(update(Comment).values(status="queued"))
        session.commit()
    make_user("mod", "moderator")
    Dashboard(client).login()
    page = client.get("/dashboard/queues/all?language=de").get_data(as_text=True)
    assert "Vielen Dank" in page and "Great piece" not in page
    assert 'lang="de"' in page  # the card names the comment's language
    bad = client.get("/dashboard/queues/all?language=German!")
    assert bad.status_code == 400 and "language: a code such as en, de or fr" in bad.get_data(as_text=True)
