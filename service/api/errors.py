"""JSON errors of one shape for the whole API.

``{"error": {"code": ..., "message": ..., "field": ... | null, "details": [{"field", "message"}]}}``
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_limiter import RateLimitExceeded
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException


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


def _is_api_request() -> bool:
    api = ("/api/", "/v1alpha1/", "/$discovery/")
    return request.path.startswith(api) or request.path in ("/healthz", "/readyz")


def _retry_after() -> int:
    """Seconds until the breached limit's window resets (at least 1)."""
    from service.web import limiter

    current = limiter.current_limit
    return max(1, math.ceil(current.window[0] - time.time())) if current is not None else 1


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(APIError, error_response)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not _is_api_request():
            return exc
        status = exc.code or 500
        message = exc.description or exc.name
        headers = {}
        if status == 413:
            message = "request body is too large"
        if isinstance(exc, RateLimitExceeded):
            message = f"rate limit exceeded: {message}"
            headers["Retry-After"] = str(_retry_after())
        return error_response(APIError(status, _HTTP_CODES.get(status, "error"), message, headers=headers))

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
