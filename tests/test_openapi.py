"""The OpenAPI document describes every API route, and schemathesis finds nothing against the live app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import serving

EXPECTED = {
    ("post", "/api/v1/comments"),
    ("get", "/api/v1/comments/{comment_id}"),
    ("post", "/api/v1/comments/{comment_id}/reports"),
    ("get", "/api/v1/articles/{article_id}"),
    ("put", "/api/v1/articles/{article_id}"),
    ("get", "/api/v1/articles/{article_id}/comments"),
    ("post", "/api/v1/feedback"),
    ("get", "/api/v1/authors/{author_id}"),
    ("delete", "/api/v1/authors/{author_id}"),
    ("get", "/api/v1/labels"),
    ("post", "/v1alpha1/comments:analyze"),
    ("post", "/v1alpha1/comments:suggestscore"),
    ("get", "/api/v1/reports"),
    ("get", "/api/v1/reports/{name}"),
}


def test_the_document_is_openapi_3_1_and_lists_every_route(client):
    document = client.get("/api/v1/openapi.json").get_json()

    assert document["openapi"].startswith("3.1")
    operations = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert EXPECTED <= operations
    put = document["paths"]["/api/v1/articles/{article_id}"]["put"]
    assert "premoderation" in str(document["components"]["schemas"]["ArticleSettingsIn"])
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ArticleSettingsIn")


def test_generated_clients_get_readable_names_servers_enums_and_every_key_location(client):
    document = client.get("/api/v1/openapi.json").get_json()
    names = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    assert {"comments_create", "comments_show", "perspective_analyze", "articles_update"} <= names
    assert all(name.replace("_", "").isalnum() for name in names)  # no slashes, braces or colons
    assert document["servers"] == [{"url": "http://localhost", "description": "this Stet"}]
    status = document["components"]["schemas"]["Status"]
    assert set(status["enum"]) == {"pending", "approved", "rejected", "queued"}
    assert '"default": null' not in json.dumps(document)  # optional and nullable, never "required"
    analyze = document["paths"]["/v1alpha1/comments:analyze"]["post"]
    assert analyze["security"] == [{"perspective_key": []}, {"perspective_header": []}, {"site_key": []}]
    header = document["components"]["securitySchemes"]["perspective_header"]
    assert (header["in"], header["name"]) == ("header", "X-Goog-Api-Key")


def test_the_docs_page_loads_swagger_ui_from_this_server(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "openapi.json" in page.text  # the document, also without script
    assert "cdn" not in page.text.lower() and "unpkg" not in page.text
    with client.get("/api/v1/docs/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200 and bundle.mimetype == "text/javascript"
    assert client.get("/api/v1/docs/package.json").status_code == 404  # only Swagger UI's two files


@pytest.fixture
def unlimited_server(app_factory):
    """The app over real HTTP, with rate limits high enough not to answer 429 to the fuzzer."""
    limits = {name: "100000/minute" for name in ("rate_limit_site", "rate_limit_author", "rate_limit_ip")}
    app = app_factory(scorers="null", **limits)  # the contract, not the model, is under test
    with serving(app) as url:
        yield url


def test_schemathesis_finds_nothing(unlimited_server, site_key):
    """Every operation, with generated valid and invalid requests, against real HTTP; all checks on."""
    # A schema-valid request may still be refused for what a schema cannot say: 422 for a body of
    # only spaces or a parent_id that does not exist, 400 for a cursor this API did not issue.
    # Every other check runs as shipped.
    expected = ["2xx", "400", "401", "403", "404", "409", "422"]
    config = SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": expected}}}
    )
    schema = schemathesis.openapi.from_url(f"{unlimited_server}/api/v1/openapi.json", config=config)
    headers = {"Authorization": f"Bearer {site_key}", "X-Goog-Api-Key": site_key}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(EXPECTED)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers)

        check()


def test_a_generated_python_client_posts_and_reads_a_comment(live_server, site_key, tmp_path):
    """openapi-python-client builds a client from the document; a news site uses it as is."""
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(f"{live_server}/api/v1/openapi.json").text)
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its code with ruff
    generated = subprocess.run(
        [f"{bin_dir}/openapi-python-client", "generate", "--path", str(spec), "--meta", "none"],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        from stet_api_client import AuthenticatedClient
        from stet_api_client.api.comments import comments_create, comments_show
        from stet_api_client.models import CommentIn

        client = AuthenticatedClient(base_url=live_server, token=site_key)
        body = CommentIn.from_dict(
            {"article": {"id": "story-9"}, "author": {"id": "reader-9"}, "body": "A generated hello."}
        )
        created = comments_create.sync(client=client, body=body)
        assert created.status == "pending" and created.body == "A generated hello."
        shown = comments_show.sync(comment_id=created.id, client=client)
        assert (shown.id, shown.external_id) == (created.id, None)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("stet_api_client")]:
            del sys.modules[name]
