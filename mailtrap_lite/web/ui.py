"""The web UI's files (static/), served with headers that keep the page itself hard to attack."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

# The page renders mail subjects and names: should one ever reach the DOM as markup, it still runs nothing.
# frame-ancestors stops other sites from framing the UI (clickjacking "Delete all").
UI_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time: after an upgrade the browser must not mix old and new modules.
    "Cache-Control": "no-cache",
}


def static_dir() -> Path:
    """The UI's files: inside the installed package, or ``static/`` at the top of a source checkout."""
    packaged = Path(__file__).resolve().parents[1] / "static"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "static"


class UIFiles:
    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(UI_HEADERS)
            await send(message)

        await self.files(scope, receive, send_with_headers)
