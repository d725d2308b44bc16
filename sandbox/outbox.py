"""The sandbox's mail outbox: what Rocket.Chat would e-mail, kept for `GET /sandbox/emails`
(served by `sandbox.server`)."""

from __future__ import annotations

from typing import Any

from sandbox.state import SandboxState


def send_email(state: SandboxState, to: str, subject: str, text: str) -> dict[str, Any]:
    """Record a mail (2FA code, e-mail change notice, ...) instead of sending it."""
    mail = {"to": to, "subject": subject, "text": text, "ts": state.clock()}
    state.emails.append(mail)
    return mail
