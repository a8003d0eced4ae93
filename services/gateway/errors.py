"""One JSON error shape for every failure: {"error": {"code", "message", "details"?}}.

Clients get a 4xx that says what was wrong; an unavailable Kafka or MongoDB is a 503, never a bare 500.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logging import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    """A client's mistake, answered with `status_code` and the JSON error; each subclass names its status and
    code in its class line, e.g. `class NotFound(ApiError, status_code=404, code="not_found")`."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        # A subclass of a subclass may name neither and keep its parent's.
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code  # a more precise code than the class's, e.g. account_deactivated

    def headers(self) -> dict[str, str] | None:
        """Headers the answer carries besides the JSON error (e.g. Retry-After)."""
        return None


class Unauthorized(ApiError, status_code=401, code="unauthorized"):
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError, status_code=403, code="forbidden"): ...


class NotFound(ApiError, status_code=404, code="not_found"): ...


class Conflict(ApiError, status_code=409, code="conflict"): ...


class Gone(ApiError, status_code=410, code="gone"):
    """Something that existed and can no longer be used, e.g. a one-time link already used or expired."""


class PayloadTooLarge(ApiError, status_code=413, code="payload_too_large"): ...


class UnsupportedMediaType(ApiError, status_code=415, code="unsupported_media_type"): ...


class TooManyRequests(ApiError, status_code=429, code="too_many_requests"):
    """429 with `Retry-After` (whole seconds): over a rate limit, or a locked account."""

    def __init__(self, message: str, *, retry_after: int, code: str = "too_many_requests") -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.code = code
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _unavailable(message: str) -> JSONResponse:
    """Infrastructure trouble, not the client's fault: a 503 it may retry shortly."""
    return JSONResponse(_body("unavailable", message), status_code=503, headers={"Retry-After": "2"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers()
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # A rule a model checks itself reads as its own sentence, without pydantic's "Value error, ".
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]),
                "problem": error["msg"].removeprefix("Value error, "),
            }
            for error in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        return JSONResponse(_body("invalid_request", f"Invalid request: {summary}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(KafkaError)
    async def kafka_down(_: Request, exc: KafkaError) -> JSONResponse:
        log.error("kafka unavailable", error=repr(exc))
        return _unavailable("The event store is unavailable; nothing was recorded. Retry shortly.")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's fault: say so in the same JSON shape and log the whole story.
        log.exception("unhandled error", error=repr(exc))
        return JSONResponse(
            _body("internal_error", "Something went wrong on our side; nothing was lost."), status_code=500
        )

    @app.exception_handler(PyMongoError)
    async def mongo_down(_: Request, exc: PyMongoError) -> JSONResponse:
        log.error("mongodb unavailable", error=repr(exc))
        return _unavailable("The view store is unavailable. Retry shortly.")


NUL_REFUSED = "Text must not contain NUL characters (U+0000)."


def refuse_nul(value: Any) -> Any:
    """Raises ValueError for a NUL character anywhere in a request body's strings.

    No chat text needs one, and PostgreSQL (under FerretDB locally, and many analytics sinks) cannot store
    it: accepted, it would turn into an event no view could hold."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(NUL_REFUSED)
    elif isinstance(value, dict):
        for item in value.values():
            refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item)
    return value


class RefuseNulInUrls:
    """The same rule for paths and query strings: a clear 422 rather than a 503 from the view store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]
        ):
            response = JSONResponse(_body("invalid_request", NUL_REFUSED), status_code=422)
            if scope["type"] == "http":
                await response(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)
