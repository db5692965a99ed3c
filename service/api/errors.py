"""JSON errors of one shape for the whole API.

``{"error": {"code": ..., "message": ..., "field": ... | null, "details": [{"field", "message"}]}}``
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from flask_limiter import RateLimitExceeded
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from service.web import retry_after


class APIError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field = field
        self.details = (
            details if details is not None else ([{"field": field, "message": message}] if field else [])
        )
        self.headers = headers or {}


def error_response(err: APIError) -> Response:
    body: dict[str, Any] = {
        "error": {
            "code": err.code,
            "message": err.message,
            "field": err.field,
            "details": err.details,
        }
    }
    resp = jsonify(body)
    resp.status_code = err.status
    resp.headers.update(err.headers)
    return resp


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# Seconds a client should wait after a 503 for a database outage (a restart takes a few).
DATABASE_RETRY_AFTER = 5


def _is_api_request() -> bool:
    api = ("/api/", "/v1alpha1/", "/$discovery/")
    return request.path.startswith(api) or request.path in ("/healthz", "/readyz")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(APIError, error_response)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not _is_api_request():
            return exc
        status = exc.code or 500
        message = exc.description or exc.name
        headers = dict(exc.get_headers())  # e.g. a 405's Allow
        headers.pop("Content-Type", None)
        if status == 413:
            message = "request body is too large"
        if isinstance(exc, RateLimitExceeded):
            message = f"rate limit exceeded: {message}"
            headers["Retry-After"] = str(retry_after())
        return error_response(APIError(status, _HTTP_CODES.get(status, "error"), message, headers=headers))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc: DBAPIError):  # type: ignore[no-untyped-def]
        """The database is down, restarting, locked or out of disk: 503 with Retry-After, one log
        line (no traceback per request); the request's transaction is rolled back, so nothing is
        half-saved."""
        app.logger.error(
            "database unavailable on %s %s: %s", request.method, request.path, str(exc.orig).splitlines()[0]
        )
        from service.web import get_session

        try:
            get_session().rollback()
        except DBAPIError:
            pass  # the connection is gone; the pool discards it
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        if not _is_api_request():
            return "Stet cannot reach its database right now. Try again in a moment.", 503, headers
        message = "the database is unavailable; nothing was saved, try again shortly"
        return error_response(APIError(503, "unavailable", message, headers=headers))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not _is_api_request():
            return "Internal server error", 500
        return error_response(APIError(500, "internal_error", "internal error; it has been logged"))


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` or raise a 422 APIError listing every problem by field path."""
    if not isinstance(data, dict):
        raise APIError(400, "invalid_json", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(part) for part in err["loc"] if part != "[key]") or None  # a bad dict key
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            details.append({"field": field or "", "message": message})
        first = details[0]
        raise APIError(
            422,
            "validation_error",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            details=details,
        ) from None
