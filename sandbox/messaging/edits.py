"""executeUpdateMessage: the author (or a holder of `edit-message`) edits a message."""

from __future__ import annotations

from typing import Any

from sandbox import markdown, permissions
from sandbox.errors import MeteorError
from sandbox.messaging.fanout import publish_update
from sandbox.state import SandboxState, now


def update_message(state: SandboxState, message: dict[str, Any], user_id: str, text: str) -> None:
    """executeUpdateMessage: the author (or `edit-message`) edits within the allowed time."""
    user = state.users.get(user_id)
    if user is None:
        raise MeteorError("error-invalid-user", "Invalid user")
    may_edit_any = permissions.has_permission(state, user_id, "edit-message", message.get("rid"))
    is_author = message.get("u", {}).get("_id") == user_id
    if not state.settings.get("Message_AllowEditing", True) or not (may_edit_any or is_author):
        raise MeteorError("error-action-not-allowed", "Message editing not allowed")
    block_minutes = int(state.settings.get("Message_AllowEditing_BlockEditInMinutes", 0) or 0)
    if block_minutes and not may_edit_any:
        age = (now() - message["ts"]).total_seconds() / 60
        if age > block_minutes:
            raise MeteorError("error-message-editing-blocked", "Message editing is blocked")
    stamp = now()
    message.update(
        {
            "msg": text,
            "md": markdown.parse(text),
            "editedAt": stamp,
            "editedBy": {"_id": user_id, "username": user.get("username")},
            "_updatedAt": stamp,
        }
    )
    publish_update(state, message)
