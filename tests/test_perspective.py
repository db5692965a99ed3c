"""A Perspective client (Coral) gets Perspective's answers from Stet by changing one URL."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.models import Label
from worker.scorers import load_scorer

# The request of Perspective's quickstart and API reference ("AnalyzeComment example").
QUICKSTART = {
    "comment": {"text": "What kind of idiot name is foo?"},
    "languages": ["en"],
    "requestedAttributes": {"TOXICITY": {}},
}
REFERENCE_EXAMPLE = {
    "comment": {"text": "What kind of idiot name is foo? Sorry, I like your name."},
    "languages": ["en"],
    "requestedAttributes": {"TOXICITY": {}, "UNSUBSTANTIAL": {}},
}


def analyze(client, body, key, via="query"):
    if via == "query":
        return client.post(f"/v1alpha1/comments:analyze?key={key}", json=body)
    return client.post("/v1alpha1/comments:analyze", json=body, headers={"X-Goog-Api-Key": key})


def test_the_quickstart_request_gets_a_well_formed_answer(client, site_key):
    response = analyze(client, {**QUICKSTART, "clientToken": "req-7"}, site_key)

    assert response.status_code == 200, response.text
    body = response.get_json()
    assert set(body) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert list(body["attributeScores"]) == ["TOXICITY"]
    summary = body["attributeScores"]["TOXICITY"]["summaryScore"]
    assert summary["type"] == "PROBABILITY"
    assert summary["value"] > 0.5  # "idiot" is an insult
    assert (body["languages"], body["detectedLanguages"], body["clientToken"]) == (["en"], ["en"], "req-7")


def test_a_polite_comment_scores_low_and_the_key_may_come_in_a_header(client, site_key):
    body = {**QUICKSTART, "comment": {"text": "Thank you for the clear explanation of the budget."}}
    response = analyze(client, body, site_key, via="header")
    assert response.get_json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"] < 0.2


def test_span_annotations_give_spans_in_utf16_units(client, site_key):
    text = "🙂 What kind of idiot name is foo?"
    response = analyze(client, {**QUICKSTART, "comment": {"text": text}, "spanAnnotations": True}, site_key)
    spans = response.get_json()["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans, "spanAnnotations asks for spans"
    for span in spans:
        assert 0 <= span["begin"] < span["end"] <= len(text.encode("utf-16-le")) // 2
        assert 0 <= span["score"]["value"] <= 1


def test_an_attribute_stet_does_not_score_is_perspectives_400(client, site_key):
    response = analyze(client, REFERENCE_EXAMPLE, site_key)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert "UNSUBSTANTIAL" in error["message"]


def test_a_language_other_than_english_is_perspectives_400(client, site_key):
    response = analyze(client, {**QUICKSTART, "languages": ["it"]}, site_key)
    error = response.get_json()["error"]
    assert response.status_code == 400
    assert error["message"] == "Attribute TOXICITY does not support request languages: it"
    assert analyze(client, {**QUICKSTART, "languages": ["en-US"]}, site_key).status_code == 200


def test_a_missing_or_wrong_key_is_refused(client, site_key):
    assert client.post("/v1alpha1/comments:analyze", json=QUICKSTART).status_code == 403
    wrong = analyze(client, QUICKSTART, "stet_wrong")
    assert (wrong.status_code, wrong.get_json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_suggestscore_is_kept_as_a_label(client, site_key, db):
    body = {
        "comment": {"text": "You are all sheep."},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9}}},
        "clientToken": "fb-1",
        "communityId": "letters-page",
    }
    response = client.post(f"/v1alpha1/comments:suggestscore?key={site_key}", json=body)
    assert response.status_code == 200
    assert response.get_json()["clientToken"] == "fb-1"
    with db.session() as session:
        label = session.query(Label).one()
        assert (label.text, label.attribute, label.value, label.source) == (
            "You are all sheep.",
            "toxicity",
            0.9,
            "suggestscore",
        )
        assert (label.client_token, label.community_id) == ("fb-1", "letters-page")


def test_the_default_scorer_answers_all_seven_attributes(app_factory, site_key):
    client = app_factory(scorers=Settings().scorers).test_client()
    every = [
        "TOXICITY",
        "SEVERE_TOXICITY",
        "INSULT",
        "PROFANITY",
        "THREAT",
        "IDENTITY_ATTACK",
        "SEXUALLY_EXPLICIT",
    ]
    body = {
        "comment": {"text": "Someone should shoot every one of those protesters."},
        "languages": ["en"],
        "requestedAttributes": {name: {} for name in every},
    }
    response = analyze(client, body, site_key)
    assert response.status_code == 200, response.text
    scores = {k: v["summaryScore"]["value"] for k, v in response.get_json()["attributeScores"].items()}
    assert list(scores) == every
    # Perspective's names for the default scorer's own scores of the same text.
    (ours,) = load_scorer(Settings().scorers).score_batch([body["comment"]["text"]])
    names = {"SEVERE_TOXICITY": "severe_toxicity", "PROFANITY": "obscene"}
    names["SEXUALLY_EXPLICIT"] = "sexual_explicit"
    for name in every:
        assert scores[name] == pytest.approx(ours[names.get(name, name.lower())], abs=1e-4), name
    assert scores["THREAT"] > 0.03  # a call to shoot people, held as a possible threat


def test_attribute_names_in_any_case_and_texts_up_to_perspectives_20_kb(client, site_key):
    body = {**QUICKSTART, "requestedAttributes": {"toxicity": {}, "Insult": {}}}
    answer = analyze(client, body, site_key).get_json()
    assert set(answer["attributeScores"]) == {"toxicity", "Insult"}  # keyed as the client asked
    long = ("The council met again and discussed the budget at length. " * 400)[:20_480]  # twice the API's
    assert analyze(client, {**QUICKSTART, "comment": {"text": long}}, site_key).status_code == 200
    too_long = analyze(client, {**QUICKSTART, "comment": {"text": long[:-1] + "é"}}, site_key)  # 20,481 bytes
    assert too_long.status_code == 400
    assert too_long.get_json()["error"]["details"][0]["errorType"] == "COMMENT_TOO_LONG"


def test_a_rate_limited_perspective_call_answers_in_googles_shape(app_factory, site_key):
    client = app_factory(rate_limit_site="2/minute").test_client()
    answers = [analyze(client, QUICKSTART, site_key) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    error = answers[2].get_json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")


def test_googles_python_client_runs_perspectives_sample_against_stet(live_server, site_key):
    """Perspective's documented Python sample, with only the discovery URL changed."""
    from googleapiclient import discovery

    client = discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=site_key,
        discoveryServiceUrl=f"{live_server}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
    )
    analyze_request = {
        "comment": {"text": "friendly greetings from python"},
        "requestedAttributes": {"TOXICITY": {}},
    }
    response = client.comments().analyze(body=analyze_request).execute()
    assert 0 <= response["attributeScores"]["TOXICITY"]["summaryScore"]["value"] < 0.5
    assert response["languages"] == ["en"]
    suggested = (
        client.comments()
        .suggestscore(
            body={
                "comment": {"text": "You are all sheep."},
                "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.8}}},
                "clientToken": "t-1",
            }
        )
        .execute()
    )
    assert suggested["clientToken"] == "t-1"


def test_the_discovery_document_is_rooted_at_stet_and_needs_no_key(client):
    doc = client.get("/$discovery/rest?version=v1alpha1").get_json()
    assert (doc["name"], doc["version"], doc["rootUrl"]) == (
        "commentanalyzer",
        "v1alpha1",
        "http://localhost/",
    )
    assert doc["resources"]["comments"]["methods"]["analyze"]["path"] == "v1alpha1/comments:analyze"
    missing = client.get("/$discovery/rest?version=v1")
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "version"


def test_scoring_is_gated_one_request_per_site_and_a_busy_scorer_answers_429_at_once(app, client, site_key):
    """A site flooding the expensive call waits for nobody's scorer: its second request at once is
    refused, and while the scorer is taken other requests get 429 with Retry-After within the wait."""
    import threading

    from service.api.scoring_gate import Busy, ScoringGate
    from service.models import Site

    gate = ScoringGate(concurrency=1, wait=0.2)
    app.extensions["stet.scoring_gate"] = gate
    with app.extensions["stet.db"].session() as session:
        site_id = session.query(Site).one().id
    held, release = threading.Event(), threading.Event()

    def hold(site: int) -> None:
        with gate.turn(site):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold, args=(site_id,))
    holder.start()
    held.wait(5)
    try:
        same_site = analyze(
            client, {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}, site_key
        )
        assert same_site.status_code == 429
        assert same_site.get_json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert "previous request" in same_site.get_json()["error"]["message"]
        assert same_site.headers["Retry-After"] == "1"
        try:
            with gate.turn(site_id + 1):  # another site, while the only slot is held
                raise AssertionError("the slot was not held")
        except Busy as busy:
            assert busy.site is False
    finally:
        release.set()
        holder.join(5)
    assert (
        analyze(
            client, {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}, site_key
        ).status_code
        == 200
    )
