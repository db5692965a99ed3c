"""A Perspective-compatible endpoint, so a Coral install switches to Stet by changing one URL.

``POST /v1alpha1/comments:analyze?key=<site key>`` (or the key in ``X-Goog-Api-Key``) takes
Perspective's AnalyzeComment request and answers in its shape, scored synchronously by the
configured toxicity scorer (loaded once per process). ``comments:suggestscore`` keeps the
suggested scores as ``Label`` rows. Errors use Google's shape:
``{"error": {"code", "message", "status", "details"}}``.

Languages as Perspective treats them: the request's ``languages`` are taken as the comment's, and
without them the language is detected (``detectedLanguages``; the site's own when the text is too
short to tell). Every language the scorer reads is scored (``Scorer.reads``); a 400
``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`` only for the others. Unlike the worker, this endpoint does
not hold comments in languages the model is not validated for: the caller (Coral) decides on the
scores, and the README lists which languages are validated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, g, request
from flask_limiter import RateLimitExceeded
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from werkzeug.exceptions import HTTPException

from service import language
from service.accounts import site_for_key
from service.api.openapi import documented
from service.api.scoring_gate import Busy
from service.models import Label, Site
from service.schemas import Text
from service.web import get_session, retry_after
from worker.scorers import Scorer, load_scorer

bp = Blueprint("perspective", __name__)

# Perspective's attribute names and the labels Stet's scorers use (detoxify's names).
ATTRIBUTES = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
    "IDENTITY_ATTACK": "identity_attack",
    "SEXUALLY_EXPLICIT": "sexual_explicit",
}
SCORE_TYPE = "PROBABILITY"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextEntry(_Loose):
    text: Text
    type: StrictStr | None = None


class Context(_Loose):
    entries: list[TextEntry] = []


class AttributeRequest(_Loose):
    scoreType: StrictStr | None = None
    scoreThreshold: float | None = Field(None, ge=0, le=1)


class AnalyzeRequest(_Loose):
    comment: TextEntry
    context: Context | None = None
    requestedAttributes: dict[str, AttributeRequest] = Field(min_length=1)
    spanAnnotations: StrictBool = False
    languages: list[StrictStr] = []
    doNotStore: StrictBool = False
    clientToken: StrictStr | None = None
    sessionId: StrictStr | None = None
    communityId: StrictStr | None = None


class Score(BaseModel):
    value: float = Field(ge=0, le=1)
    type: StrictStr = SCORE_TYPE


class SpanScore(BaseModel):
    begin: int
    end: int
    score: Score


class AttributeScores(BaseModel):
    summaryScore: Score
    spanScores: list[SpanScore] | None = None


class AnalyzeResponse(BaseModel):
    attributeScores: dict[str, AttributeScores]
    languages: list[str]
    detectedLanguages: list[str]
    clientToken: str | None = None


class SuggestRequest(_Loose):
    comment: TextEntry
    context: Context | None = None
    attributeScores: dict[str, AttributeScores] = Field(min_length=1)
    languages: list[StrictStr] = []
    communityId: StrictStr | None = None
    clientToken: StrictStr | None = None


class SuggestResponse(BaseModel):
    clientToken: str | None = None
    requestedLanguages: list[str] = []


class GoogleErrorBody(BaseModel):
    code: int
    message: str
    status: str
    details: list[dict[str, Any]] = []


class GoogleError(BaseModel):
    error: GoogleErrorBody


class PerspectiveError(Exception):
    """An error answered in Google's shape."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details or []


def _invalid(message: str, error_type: str | None = None, **extra: Any) -> PerspectiveError:
    details = []
    if error_type:
        details = [
            {
                "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                "errorType": error_type,
                **extra,
            }
        ]
    return PerspectiveError(400, "INVALID_ARGUMENT", message, details)


@bp.errorhandler(PerspectiveError)
def _perspective_error(err: PerspectiveError, wait: int = 1):
    body = {"error": {"code": err.code, "message": err.message, "status": err.status, "details": err.details}}
    return body, err.code, {"Retry-After": str(wait)} if err.code == 429 else {}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = {413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}.get(exc.code or 400, "INVALID_ARGUMENT")
    wait = retry_after() if isinstance(exc, RateLimitExceeded) else 1
    return _perspective_error(PerspectiveError(exc.code or 400, status, exc.description or exc.name), wait)


@lru_cache(maxsize=4)
def scorer_named(name: str) -> Scorer:
    """The configured toxicity scorer, loaded once per process."""
    return load_scorer(name)


def _site() -> Site:
    key = request.args.get("key") or request.headers.get("X-Goog-Api-Key")
    if not key:
        auth = request.headers.get("Authorization", "")
        key = auth.partition(" ")[2].strip() if auth.lower().startswith("bearer ") else ""
    if not key:
        raise PerspectiveError(
            403,
            "PERMISSION_DENIED",
            "The request is missing a valid API key: pass the site's key as ?key= or X-Goog-Api-Key.",
        )
    site = site_for_key(get_session(), key)
    if site is None:
        raise _invalid("API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
    g.site = site  # the access log names the site
    return site


def _parse(model: type[BaseModel]) -> Any:
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise _invalid("Invalid JSON payload received: the body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in err["loc"])
        raise _invalid(f"Invalid value at '{field}': {err['msg']}") from None


# Perspective's own limit on a comment's text (its documentation: 20 KB, as UTF-8).
MAX_TEXT_BYTES = 20_480


def _check_text(text: str) -> None:
    if not text.strip():
        raise _invalid("Comment must be non-empty.", "COMMENT_EMPTY")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise _invalid(f"Comment text too long: at most {MAX_TEXT_BYTES} bytes as UTF-8.", "COMMENT_TOO_LONG")


def _labels(
    names: list[str], provided: tuple[str, ...], languages: list[str], reads: frozenset[str] | None = None
) -> dict[str, str]:
    """Perspective names to scorer labels; a 400 for an attribute Stet does not score, or when none
    of ``languages`` is one the scorer ``reads`` (None: any language)."""
    wanted = {}
    for name in names:
        # "TOXICITY@5": a version suffix is accepted; "toxicity" too, as Perspective accepts it
        attribute = name.split("@", 1)[0].upper()
        label = ATTRIBUTES.get(attribute)
        if label is None or label not in provided:
            raise _invalid(
                f"Unknown or unsupported attribute: {attribute}. Supported here: "
                + ", ".join(a for a, lab in ATTRIBUTES.items() if lab in provided),
                "ATTRIBUTE_NOT_SUPPORTED",
            )
        if reads is not None and languages and not any(language.primary(x) in reads for x in languages):
            raise _invalid(
                f"Attribute {attribute} does not support request languages: {', '.join(languages)}",
                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                languageNotSupportedByAttributeError={
                    "requestedLanguages": languages,
                    "attribute": attribute,
                },
            )
        wanted[name] = label
    return wanted


def _utf16(text: str, index: int) -> int:
    """Perspective counts offsets in UTF-16 code units; Python in code points."""
    return len(text[:index].encode("utf-16-le")) // 2


def _spans(scorer: Scorer, text: str, label: str, summary: float) -> list[dict[str, Any]]:
    """Spans from the scorer's ``explain`` scored on their own; else the whole text, as Perspective does."""
    explain = getattr(scorer, "explain", None)
    spans = (
        [(start, end) for start, end, _weight in explain([text])[0]]
        if explain and label == "toxicity"
        else []
    )
    if not spans:
        return [{"begin": 0, "end": _utf16(text, len(text)), "score": {"value": summary, "type": SCORE_TYPE}}]
    scores = scorer.score_batch([text[start:end] for start, end in spans])
    return [
        {
            "begin": _utf16(text, start),
            "end": _utf16(text, end),
            "score": {"value": round(float(s[label]), 6), "type": SCORE_TYPE},
        }
        for (start, end), s in zip(spans, scores, strict=True)
    ]


def _scored(scorer: Scorer, text: str, wanted: dict[str, str], data: AnalyzeRequest) -> dict[str, Any]:
    """The attribute scores (with spans when asked) above each attribute's threshold."""
    scores = scorer.score_batch([text])[0]
    answer: dict[str, Any] = {}
    for name, label in wanted.items():
        value = round(float(scores[label]), 6)
        threshold = data.requestedAttributes[name].scoreThreshold
        if threshold is not None and value < threshold:
            continue
        entry: dict[str, Any] = {"summaryScore": {"value": value, "type": SCORE_TYPE}}
        if data.spanAnnotations:
            entry["spanScores"] = _spans(scorer, text, label, value)
        answer[name] = entry
    return answer


@bp.post("/comments:analyze")
@documented(
    answer=AnalyzeResponse,
    json=AnalyzeRequest,
    errors=(403,),
    tags=["perspective"],
    security={"perspective_key": []},
    error_model=GoogleError,
)
def analyze():
    """Perspective's AnalyzeComment: scores for the requested attributes, in every language the
    scorer reads (the request's languages, else the detected one)."""
    site = _site()
    data = _parse(AnalyzeRequest)
    _check_text(data.comment.text)
    scorer = scorer_named(current_app.config["STET_SETTINGS"].scorers)
    text = data.comment.text
    detected = language.detect(text, expected=site.language) or site.language
    languages = data.languages or [detected]
    wanted = _labels(list(data.requestedAttributes), tuple(scorer.labels), languages, scorer.reads)
    try:
        with current_app.extensions["stet.scoring_gate"].turn(site.id):
            answer = _scored(scorer, text, wanted, data)
    except Busy as busy:
        whose = "this key's previous request is still being scored" if busy.site else "the scorer is busy"
        message = f"Too many requests: {whose}; retry shortly."
        raise PerspectiveError(429, "RESOURCE_EXHAUSTED", message) from None
    body: dict[str, Any] = {
        "attributeScores": answer,
        "languages": languages,
        "detectedLanguages": [detected],
    }
    if data.clientToken is not None:
        body["clientToken"] = data.clientToken
    return body


@bp.post("/comments:suggestscore")
@documented(
    answer=SuggestResponse,
    json=SuggestRequest,
    errors=(403,),
    tags=["perspective"],
    security={"perspective_key": []},
    error_model=GoogleError,
)
def suggest_score():
    """Perspective's SuggestCommentScore: a person's scores for a text, kept as labels."""
    site = _site()
    data = _parse(SuggestRequest)
    _check_text(data.comment.text)
    wanted = _labels(list(data.attributeScores), tuple(ATTRIBUTES.values()), data.languages)
    session = get_session()
    session.add_all(
        Label(
            site_id=site.id,
            text=data.comment.text,
            attribute=label,
            value=data.attributeScores[name].summaryScore.value,
            source="suggestscore",
            client_token=(data.clientToken or "")[:200] or None,
            community_id=(data.communityId or "")[:200] or None,
        )
        for name, label in wanted.items()
    )
    session.commit()
    body: dict[str, Any] = {"requestedLanguages": data.languages}
    if data.clientToken is not None:
        body["clientToken"] = data.clientToken
    return body
