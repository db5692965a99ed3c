"""Perspective's API discovery document, with Stet's own root URL, so Google's client libraries
reach Stet by changing only the discovery URL.

``google-api-python-client`` (and Google's other generated clients) build the Perspective client
from ``$discovery/rest?version=v1alpha1``; Stet serves the same service name, version, methods and
paths (``commentanalyzer``, ``v1alpha1``, ``comments.analyze`` and ``comments.suggestscore``)
with ``rootUrl`` set to the address the document was asked for. The document holds no data and
needs no key.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from service.api.errors import APIError

bp = Blueprint("perspective_discovery", __name__)
VERSION = "v1alpha1"


def _object(description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "additionalProperties": {"type": "any"}}


def _method(name: str, request_schema: str, response_schema: str, description: str) -> dict[str, Any]:
    path = f"{VERSION}/comments:{name}"
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": path,
        "flatPath": path,
        "httpMethod": "POST",
        "description": description,
        "parameters": {},
        "parameterOrder": [],
        "request": {"$ref": request_schema},
        "response": {"$ref": response_schema},
    }


def document(root_url: str) -> dict[str, Any]:
    """The discovery document of Perspective's ``commentanalyzer`` API, served from ``root_url``."""
    query = {"type": "string", "location": "query"}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{VERSION}",
        "name": "commentanalyzer",
        "version": VERSION,
        "title": "Perspective Comment Analyzer API (served by Stet)",
        "description": "Scores comments for toxicity and the other Perspective attributes, offline.",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "batchPath": "batch",
        "parameters": {
            "key": {**query, "description": "The Stet site key."},
            "fields": {**query, "description": "Selector specifying which fields to include."},
            "prettyPrint": {"type": "boolean", "default": "true", "location": "query"},
            "alt": {"type": "string", "default": "json", "enum": ["json"], "location": "query"},
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze",
                        "AnalyzeCommentRequest",
                        "AnalyzeCommentResponse",
                        "Analyzes the provided text and returns scores for requested attributes.",
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Suggest comment scores as training data.",
                    ),
                }
            }
        },
        "schemas": {
            name: {"id": name, **_object(description)}
            for name, description in (
                ("AnalyzeCommentRequest", "comment, requestedAttributes, languages, spanAnnotations..."),
                ("AnalyzeCommentResponse", "attributeScores, languages, detectedLanguages, clientToken"),
                ("SuggestCommentScoreRequest", "comment, attributeScores, languages, clientToken..."),
                ("SuggestCommentScoreResponse", "requestedLanguages, clientToken"),
            )
        },
    }


@bp.get("/$discovery/rest")
def rest():
    """Perspective's discovery document (``?version=v1alpha1``), rooted at this Stet."""
    version = request.args.get("version", VERSION)
    if version != VERSION:
        raise APIError(404, "not_found", f"version: only {VERSION} is served", field="version")
    return document(request.host_url)
