"""The sandbox's mail outbox: what Rocket.Chat would e-mail, kept for `GET /sandbox/emails`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.api import json_response
from sandbox.state import SandboxState


def send_email(state: SandboxState, to: str, subject: str, text: str) -> dict[str, Any]:
    """Record a mail (2FA code, e-mail change notice, ...) instead of sending it."""
    mail = {"to": to, "subject": subject, "text": text, "ts": state.clock()}
    state.emails.append(mail)
    return mail


async def emails_handler(state: SandboxState, request: web.Request) -> web.StreamResponse:
    """`GET /sandbox/emails[?to=address]` → `{"emails": [{to, subject, text, ts}]}`, oldest first."""
    wanted = request.query.get("to")
    emails = [
        mail for mail in state.emails if wanted is None or mail["to"].lower() == wanted.lower()
    ]
    return json_response({"emails": emails})
