"""The browser front end: the agent dashboard at `/`, the visitor widget at `/widget.js`, a demo shop at `/demo`.

Plain HTML, CSS and ES modules under `services/gateway/static/`, nothing from a CDN (the machines are offline).
HTML pages carry a strict Content-Security-Policy: scripts and styles only from this origin, no inline code.
The widget runs on other sites' pages, so its files and the visitor API answer cross-origin requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Avatars may live elsewhere; file previews are blob: URLs; pasted images data: URLs.
        "img-src 'self' data: blob: https:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-cache",
}


def _page(relative: str, *, frame_ancestors: str = "'none'") -> FileResponse:
    return FileResponse(
        STATIC_DIR / relative,
        media_type=_MEDIA_TYPES[".html"],
        headers={
            **_SECURITY_HEADERS,
            "Content-Security-Policy": f"{_CSP}; frame-ancestors {frame_ancestors}",
            "X-Frame-Options": "DENY",
        },
    )


@router.get("/")
async def dashboard() -> FileResponse:
    return _page("dashboard/index.html")


@router.get("/set-password")
async def set_password_page() -> FileResponse:
    """Where an invitation's or reset's one-time link leads (the token in the fragment)."""
    return _page("dashboard/set-password.html")


@router.get("/demo")
async def demo_shop() -> FileResponse:
    return _page("demo/index.html")


@router.get("/dashboard")
async def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)


@router.get("/widget.js")
async def widget_loader() -> FileResponse:
    return _static_file("widget/loader.js")


@router.get("/static/{relative:path}")
async def static_file(relative: Annotated[str, PathParam(max_length=300)]) -> FileResponse:
    return _static_file(relative)


def _static_file(relative: str) -> FileResponse:
    target = (STATIC_DIR / relative).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file() or target.suffix not in _MEDIA_TYPES:
        raise NotFound(f"/static/{relative} not found")
    return FileResponse(target, media_type=_MEDIA_TYPES[target.suffix], headers=_SECURITY_HEADERS)


# Paths a widget on another site's page needs: its code, the visitor API and the files of its conversation.
# They authenticate with a bearer token, never a cookie, so answering any origin leaks nothing.
_CROSS_ORIGIN_PREFIXES = (
    "/widget.js",
    "/static/widget/",
    "/static/shared/",
    "/api/visitor/",
    "/api/attachments/",
)


class WidgetCors:
    """CORS for the widget's paths only; the agent API stays same-origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(_CROSS_ORIGIN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"origin" not in headers:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                        (b"access-control-allow-headers", b"authorization, content-type, x-request-id"),
                        (b"access-control-max-age", b"600"),
                        (b"vary", b"origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"access-control-allow-origin", b"*")]
            await send(message)

        await self.app(scope, receive, with_cors)
