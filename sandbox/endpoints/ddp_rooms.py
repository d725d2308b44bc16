"""DDP methods for messages and rooms (reference §7, §8).

sendMessage, setReaction, createDirectMessage, rooms/get, subscriptions/get, loadHistory,
deleteMessage, getUserRoles, and the streamers' write methods (`stream-notify-room` carries
typing events). Each follows the Rocket.Chat method of the same name, including the order of
its checks and which failures it swallows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox import permissions, ratelimit, rooms, streams
from sandbox.check import ANY, Including, Maybe, check
from sandbox.ddp_methods import DdpSession, ddp_method
from sandbox.errors import MeteorError, PlainError
from sandbox.messaging import deletion, history, reactions, sending, system
from sandbox.state import SandboxState, parse_date

SEND_MESSAGE_PATTERN = {
    "_id": Maybe(str),
    "rid": Maybe(str),
    "msg": Maybe(str),
    "tmid": Maybe(str),
    "tshow": Maybe(bool),
    "ts": Maybe(datetime),
    "t": Maybe(str),
    "bot": Maybe(dict),
    "content": Maybe(dict),
    "e2e": Maybe(str),
    "e2eMentions": Maybe(dict),
    "customFields": Maybe(dict),
    "federation": Maybe(dict),
    "groupable": Maybe(bool),
    "sentByEmail": Maybe(bool),
}
FILES_TO_CONFIRM_PATTERN = Maybe([Including({"_id": str, "name": Maybe(str), "content": ANY})])


def _limit_unless(
    state: SandboxState, method: str, user_id: str | None, limit: int, interval_ms: int
) -> None:
    """RateLimiter.limitMethod(method, limit, interval, {userId: lacks send-many-messages})."""
    if permissions.has_permission(state, user_id, "send-many-messages"):
        return
    ratelimit.check_ddp(state, f"{method}:userId{user_id}", limit, interval_ms, rule=method)


def _invalid_user(method: str) -> MeteorError:
    return MeteorError("error-invalid-user", "Invalid user", {"method": method})


@ddp_method("sendMessage")
async def send_message(
    session: DdpSession, message: Any = None, preview_urls: Any = None, files: Any = None
) -> Any:
    """sendMessage(message, previewUrls?, filesToConfirm?): the saved message, or nothing.

    Failures after the checks are swallowed (the sender gets an ephemeral message instead);
    only error-not-allowed and restricted-workspace come back as errors.
    """
    state = session.state
    _limit_unless(state, "sendMessage", session.user_id, 5, 1000)
    check(message, SEND_MESSAGE_PATTERN)
    check(files, FILES_TO_CONFIRM_PATTERN)
    max_files = state.settings.get("FileUpload_MaxFilesPerMessage", 10)
    if files and max_files and len(files) > int(max_files):
        raise MeteorError(
            "error-too-many-files",
            f"Cannot send more than {max_files} files in one message",
            {"method": "sendMessage"},
        )
    if not session.user_id:
        raise _invalid_user("sendMessage")
    if message.get("t") in system.SYSTEM_TYPES:
        raise PlainError("Cannot send system messages using 'sendMessage'")
    try:
        return sending.execute_send_message(state, session.user_id, dict(message))
    except MeteorError as exc:
        if exc.error in ("error-not-allowed", "restricted-workspace"):
            raise MeteorError(exc.error, exc.reason, {"method": "sendMessage"}) from None
    except PlainError as exc:
        if exc.message in ("error-not-allowed", "restricted-workspace"):
            raise MeteorError(exc.message, None, {"method": "sendMessage"}) from None
    return None


@ddp_method("setReaction")
async def set_reaction(
    session: DdpSession, reaction: Any = None, message_id: Any = None, should_react: Any = None
) -> Any:
    """setReaction(reaction, messageId, shouldReact?): toggles; false when muted."""
    if not session.user_id:
        raise _invalid_user("setReaction")
    try:
        return reactions.set_reaction(
            session.state, session.user_id, reaction, message_id, should_react
        )
    except MeteorError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if exc.error == "error-not-allowed" and exc.reason and details.get("rid"):
            system.ephemeral(session.state, session.user_id, details["rid"], exc.reason)
            return False
        raise


@ddp_method("createDirectMessage")
async def ddp_create_direct_message(session: DdpSession, *usernames: Any) -> dict[str, Any]:
    """createDirectMessage(...usernames) (10 per minute without send-many-messages)."""
    _limit_unless(session.state, "createDirectMessage", session.user_id, 10, 60000)
    return rooms.create_direct_message(session.state, list(usernames), session.user_id)


@ddp_method("rooms/get")
async def rooms_get(session: DdpSession, updated_at: Any = None) -> Any:
    """rooms/get(updatedAt?): the user's rooms; with a Date, `{update, remove}`."""
    state = session.state
    if not session.user_id:
        if state.settings.get("Accounts_AllowAnonymousRead", False):
            return [r for r in state.rooms.values() if r.get("default") and r.get("t") == "c"]
        return []
    return rooms.rooms_for(state, session.user_id, updated_at)


@ddp_method("subscriptions/get")
async def subscriptions_get(session: DdpSession, updated_at: Any = None) -> Any:
    """subscriptions/get(updatedAt?): the user's subscriptions; with a Date, `{update, remove}`."""
    state = session.state
    if not session.user_id:
        return []
    return rooms.subscriptions_for(state, session.user_id, updated_at)


@ddp_method("loadHistory")
async def load_history(
    session: DdpSession,
    rid: Any = None,
    end: Any = None,
    limit: Any = 20,
    ls: Any = None,
    show_thread_messages: Any = True,
) -> Any:
    """loadHistory(rid, end?, limit=20, ls?, showThreadMessages=true).

    `{messages (newest first), firstUnread?, unreadNotLoaded}`, or false when the room is
    unknown or not readable.
    """
    state = session.state
    check(rid, str)
    anonymous = state.settings.get("Accounts_AllowAnonymousRead", False)
    if not session.user_id and anonymous is False:
        raise _invalid_user("loadHistory")
    room = state.rooms.get(rid)
    if room is None or not session.user_id:
        return False
    if not rooms.can_access_room(state, room, session.user_id):
        return False
    if (
        room.get("t") == "c"
        and not anonymous
        and not permissions.has_permission(state, session.user_id, "preview-c-room")
        and state.subscription(rid, session.user_id) is None
    ):
        return False
    if limit is None:
        limit = 20
    if isinstance(limit, bool) or not isinstance(limit, (int, float)):
        raise TypeError("limit must be a number")
    show_threads = show_thread_messages is not False
    records = history.visible_messages(
        state, rid, latest=parse_date(end), show_thread_messages=show_threads
    )
    messages = records[: int(limit)] if int(limit) > 0 else records
    result: dict[str, Any] = {"messages": messages}
    unread_not_loaded = 0
    since = parse_date(ls)
    if since is not None and messages and messages[-1]["ts"] > since:
        between = [
            m
            for m in history.visible_messages(state, rid, show_thread_messages=show_threads)
            if since < m["ts"] < messages[-1]["ts"]
        ]
        if between:
            result["firstUnread"] = between[-1]
        unread_not_loaded = len(between)
    result["unreadNotLoaded"] = unread_not_loaded
    return result


@ddp_method("deleteMessage")
async def delete_message(session: DdpSession, message: Any = None) -> None:
    """deleteMessage({_id}): as chat.delete, over DDP."""
    check(message, Including({"_id": str}))
    if not session.user_id:
        raise _invalid_user("deleteMessage")
    deletion.delete_message_validating_permission(session.state, message["_id"], session.user_id)


@ddp_method("getUserRoles")
async def get_user_roles(session: DdpSession) -> list[dict[str, Any]]:
    """getUserRoles: users holding a role that has a description (admin, livechat-*)."""
    if not session.user_id:
        raise _invalid_user("getUserRoles")
    described = {"admin", "moderator", "leader", "owner", "livechat-agent", "livechat-manager"}
    described.add("livechat-monitor")
    found = [
        {"_id": user["_id"], "username": user.get("username"), "roles": user.get("roles", [])}
        for user in session.state.users.values()
        if described.intersection(user.get("roles") or [])
    ]
    return sorted(found, key=lambda u: u.get("username") or "")


def _stream_write(stream: str) -> Any:
    async def write(session: DdpSession, event_name: Any = None, *args: Any) -> None:
        if streams.write_allowed(session.state, stream, event_name, session.user_id, list(args)):
            room_id, _, event = str(event_name).partition("/")
            session.state.bus.notify_room(room_id, event, list(args), origin=session)

    write.__doc__ = f"stream-{stream}(eventName, ...args): the streamer's write method."
    return write


for _publication, _stream in streams.PUBLICATIONS.items():
    ddp_method(_publication)(_stream_write(_stream))
