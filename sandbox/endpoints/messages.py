"""REST messaging and rooms (reference §7): chat.*, im.*/dm.*, channels.*, subscriptions.get.

Bodies, errors and status codes follow apps/meteor/app/api/server/v1/{chat,im,channels,
subscriptions}.ts and the functions they call (processWebhookMessage, executeSendMessage,
createDirectMessage, getChannelHistory, deleteMessageValidatingPermission).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sandbox import permissions, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.check import Maybe, check
from sandbox.endpoints.ddp_rooms import create_direct_message, subscriptions_for
from sandbox.errors import Failure, MeteorError, PlainError, RawResponse
from sandbox.messaging import deletion, edits, history, reactions, sending, system
from sandbox.state import SandboxState, clone, now, parse_date, to_ms
from sandbox.validation import compile_schema

Validator = Callable[[Any], None]
FORBIDDEN = {"success": False, "error": "unauthorized"}


# -- validation helpers -------------------------------------------------------------------------


def _reason(exc: MeteorError) -> str:
    return str(exc.reason or "")


def one_of(*branches: Validator) -> Validator:
    """AJV `oneOf`: exactly one branch must pass; its coercions are kept."""

    def validate(data: Any) -> None:
        messages: list[str] = []
        passed: list[Any] = []
        for branch in branches:
            trial = clone(data)
            try:
                branch(trial)
            except MeteorError as exc:
                messages.append(_reason(exc))
                continue
            passed.append(trial)
        if len(passed) == 1:
            if isinstance(data, dict) and isinstance(passed[0], dict):
                data.clear()
                data.update(passed[0])
            return
        if passed:
            messages = []
        messages.append("must match exactly one schema in oneOf")
        raise MeteorError("invalid-params", "\n ".join(messages))

    return validate


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": kind, "nullable": True}


def _string_or_strings(value: Any) -> Any:
    """AJV oneOf [{type:'string'}, {type:'array', items:{type:'string'}}] with coerceTypes."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return value
        raise MeteorError(
            "invalid-params", "must be string\n must match exactly one schema in oneOf"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else repr(value)
    if value is None:
        return ""
    raise MeteorError(
        "invalid-params", "must be string\n must be array\n must match exactly one schema in oneOf"
    )


def _post_message_branch(key: str, with_tmid: bool) -> Validator:
    properties: dict[str, Any] = {
        "text": _nullable("string"),
        "alias": _nullable("string"),
        "emoji": _nullable("string"),
        "avatar": _nullable("string"),
        "attachments": {"type": "array", "items": {"type": "object"}, "nullable": True},
    }
    if with_tmid:
        properties["tmid"] = {"type": "string"}
    properties["customFields"] = _nullable("object")
    properties["parseUrls"] = {"type": "boolean"}
    rest = compile_schema({"type": "object", "properties": properties})
    allowed = {key, *properties}

    def validate(data: Any) -> None:
        if not isinstance(data, dict):
            raise MeteorError("invalid-params", "must be object")
        if key not in data:
            raise MeteorError("invalid-params", f"must have required property '{key}'")
        if any(name not in allowed for name in data):
            raise MeteorError("invalid-params", "must NOT have additional properties")
        data[key] = _string_or_strings(data[key])
        rest(data)

    return validate


def _schema(properties: dict[str, Any], required: list[str]) -> Validator:
    return compile_schema(
        {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
    )


# -- chat.* -------------------------------------------------------------------------------------


def _join_channel(state: SandboxState, room: dict[str, Any], user: dict[str, Any]) -> None:
    """Room.join for the auto-join of processWebhookMessage."""
    if state.subscription(room["_id"], user["_id"]) is not None:
        return
    if not rooms.can_access_room(state, room, user["_id"]):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "joinRoom"})
    rooms.add_user_to_room(state, room["_id"], user)


def room_by_name_or_id_to_join(
    state: SandboxState,
    user: dict[str, Any],
    name_or_id: str,
    *,
    room_type: str = "",
    direct_by_user_id_only: bool = False,
    join_channel: bool = True,
    error_on_empty: bool = True,
) -> dict[str, Any] | None:
    """getRoomByNameOrIdWithOptionToJoin."""
    room: dict[str, Any] | None
    if name_or_id.startswith("#"):
        room = _by_id_or_name(state, name_or_id[1:])
    elif name_or_id.startswith("@") or room_type == "d":
        name_or_id = name_or_id.replace("@", "", 1)
        if direct_by_user_id_only:
            other = state.users.get(name_or_id)
        else:
            other = state.users.get(name_or_id) or _exact_username(state, name_or_id)
        rid = "".join(sorted([user["_id"], other["_id"]])) if other else name_or_id
        room = state.rooms.get(rid)
        if room is None:
            if other is None:
                if error_on_empty:
                    raise MeteorError("invalid-channel")
                return None
            created = create_direct_message(state, [other["username"]], user["_id"])
            return state.rooms.get(created["rid"])
    else:
        room = _by_id_or_name(state, name_or_id)
    if room is None:
        if error_on_empty:
            raise MeteorError("invalid-channel")
        return None
    if room_type and room.get("t") != room_type:
        if error_on_empty:
            raise MeteorError("invalid-channel")
        return None
    if room.get("t") == "c" and join_channel:
        _join_channel(state, room, user)
    return room


def _exact_username(state: SandboxState, username: str) -> dict[str, Any] | None:
    for user in state.users.values():
        if user.get("username") == username:
            return user
    return None


def _by_id_or_name(state: SandboxState, name_or_id: str) -> dict[str, Any] | None:
    room = state.rooms.get(name_or_id)
    if room is not None:
        return room
    for candidate in state.rooms.values():
        if candidate.get("name") == name_or_id:
            return candidate
    return None


def process_webhook_message(
    state: SandboxState, body: dict[str, Any], user: dict[str, Any]
) -> list[tuple[str, dict[str, Any] | None]]:
    """processWebhookMessage: send to each channel, joining public ones; (channel, message)."""
    targets = body.get("channel") or body.get("roomId") or ""
    channels = list(dict.fromkeys(targets if isinstance(targets, list) else [targets]))
    sent: list[tuple[str, dict[str, Any] | None]] = []
    for channel in channels:
        if channel.startswith("#"):
            room = room_by_name_or_id_to_join(state, user, channel[1:])
        elif channel.startswith("@"):
            room = room_by_name_or_id_to_join(state, user, channel[1:], room_type="d")
        else:
            room = room_by_name_or_id_to_join(state, user, channel, error_on_empty=False)
            if room is None:
                room = room_by_name_or_id_to_join(
                    state, user, channel, room_type="d", direct_by_user_id_only=True
                )
        assert room is not None
        attachments = body.get("attachments")
        message: dict[str, Any] = {
            "alias": body.get("username") or body.get("alias") or "",
            "msg": (body.get("text") or body.get("msg") or "").strip(),
            "attachments": attachments or [],
            "parseUrls": body.get("parseUrls", not attachments),
            "bot": body.get("bot"),
            "groupable": body.get("groupable", False),
            "tmid": body.get("tmid"),
            "customFields": body.get("customFields"),
        }
        if body.get("icon_url") or body.get("avatar"):
            message["avatar"] = body.get("icon_url") or body.get("avatar")
        elif body.get("icon_emoji") or body.get("emoji"):
            message["emoji"] = body.get("icon_emoji") or body.get("emoji")
        for attachment in message["attachments"]:
            if isinstance(attachment, dict) and attachment.get("msg"):
                attachment["text"] = str(attachment.pop("msg")).strip()
        sending.validate_room_permissions(state, room, user)
        clean = {key: value for key, value in message.items() if value is not None}
        sent.append((channel, sending.insert_message(state, room, user, clean)))
    return sent


@route(
    "POST",
    "chat.postMessage",
    validate=one_of(_post_message_branch("roomId", True), _post_message_branch("channel", False)),
)
async def chat_post_message(req: ApiRequest) -> dict[str, Any]:
    """chat.postMessage: `{ts, channel, message}`."""
    assert req.user is not None
    body = req.body
    limit = int(req.state.settings.get("Message_MaxAllowedSize", 5000) or 0)
    text = body.get("text")
    if text and len(text) > limit:
        raise Failure("error-message-size-exceeded")
    for attachment in body.get("attachments") or []:
        attached = attachment.get("text") if isinstance(attachment, dict) else None
        if isinstance(attached, str) and len(attached) > limit:
            raise Failure("error-message-size-exceeded")
    sent = process_webhook_message(req.state, body, req.user)
    channel, message = sent[0]
    if not message:
        raise Failure("unknown-error")
    return success({"ts": to_ms(now()), "channel": channel, "message": message})


_SEND_MESSAGE = _schema(
    {
        "message": {
            "type": "object",
            "properties": {
                "_id": _nullable("string"),
                "rid": {"type": "string"},
                "tmid": _nullable("string"),
                "msg": _nullable("string"),
                "alias": _nullable("string"),
                "emoji": _nullable("string"),
                "tshow": _nullable("boolean"),
                "avatar": _nullable("string"),
                "attachments": {"type": "array", "items": {"type": "object"}, "nullable": True},
                "blocks": {"type": "array", "items": {"type": "object"}, "nullable": True},
                "customFields": _nullable("object"),
            },
        },
        "previewUrls": {"type": "array", "items": {"type": "string"}, "nullable": True},
    },
    ["message"],
)


@route("POST", "chat.sendMessage", validate=_SEND_MESSAGE)
async def chat_send_message(req: ApiRequest) -> dict[str, Any]:
    """chat.sendMessage: executeSendMessage with a client `_id`; `{message}`."""
    message = dict(req.body["message"])
    if message.get("t") in system.SYSTEM_TYPES:
        raise PlainError("Cannot send system messages using 'chat.sendMessage'")
    sent = sending.execute_send_message(req.state, req.user_id, message)
    if sent is None:
        raise PlainError("Cannot read properties of undefined (reading 'u')")
    return success({"message": sent})


@route(
    "GET",
    "chat.getMessage",
    validate=_schema({"msgId": {"type": "string", "minLength": 1}}, ["msgId"]),
)
async def chat_get_message(req: ApiRequest) -> dict[str, Any]:
    """chat.getMessage?msgId=: the message, if the caller can access its room."""
    msg_id = req.query.get("msgId")
    if not msg_id:
        raise Failure('The "msgId" query parameter must be provided.')
    message = req.state.messages.get(msg_id)
    if message is None or not message.get("rid"):
        raise RawResponse(400, {"success": False})
    room = req.state.rooms.get(message["rid"])
    if not rooms.can_access_room(req.state, room, req.user_id):
        raise MeteorError("error-action-not-allowed", "Not allowed")
    return success({"message": message})


def _react_branch(key: str) -> Validator:
    return _schema(
        {
            key: {"type": "string"},
            "messageId": {"type": "string", "minLength": 1},
            "shouldReact": _nullable("boolean"),
        },
        [key, "messageId"],
    )


@route("POST", "chat.react", validate=one_of(_react_branch("emoji"), _react_branch("reaction")))
async def chat_react(req: ApiRequest) -> dict[str, Any]:
    """chat.react {emoji|reaction, messageId, shouldReact?}."""
    body = req.body
    message = req.state.messages.get(body["messageId"])
    if message is None:
        raise MeteorError(
            "error-message-not-found",
            'The provided "messageId" does not match any existing message.',
        )
    emoji = body["emoji"] if "emoji" in body else body.get("reaction")
    if not emoji:
        raise MeteorError(
            "error-emoji-param-not-provided", 'The required "emoji" param is missing.'
        )
    reactions.set_reaction(req.state, req.user_id, emoji, message["_id"], body.get("shouldReact"))
    return success()


_DELETE = _schema(
    {"msgId": {"type": "string"}, "roomId": {"type": "string"}, "asUser": _nullable("boolean")},
    ["msgId", "roomId"],
)


@route("POST", "chat.delete", validate=_DELETE)
async def chat_delete(req: ApiRequest) -> dict[str, Any]:
    """chat.delete {msgId, roomId, asUser?}: `{_id, ts, message: {_id, rid, u}}`."""
    state, body = req.state, req.body
    found = state.messages.get(body["msgId"])
    if found is None:
        raise Failure(f'No message found with the id of "{body["msgId"]}".')
    if body["roomId"] != found.get("rid"):
        raise Failure("The room id provided does not match where the message is from.")
    if (
        body.get("asUser")
        and found["u"]["_id"] != req.user_id
        and not permissions.has_permission(
            state, req.user_id, "force-delete-message", found["rid"]
        )
    ):
        raise Failure(
            'Unauthorized. You must have the permission "force-delete-message" to delete '
            "other's message as them."
        )
    user_id = found["u"]["_id"] if body.get("asUser") else req.user_id
    if state.users.get(user_id) is None:
        raise Failure("User not found")
    summary = {"_id": found["_id"], "rid": found["rid"], "u": clone(found["u"])}
    deletion.delete_message_validating_permission(state, found["_id"], user_id)
    return success({"_id": found["_id"], "ts": str(to_ms(now())), "message": summary})


_UPDATE = _schema(
    {
        "roomId": {"type": "string"},
        "msgId": {"type": "string"},
        "text": {"type": "string"},
        "previewUrls": {"type": "array", "items": {"type": "string"}},
        "customFields": {"type": "object"},
    },
    ["roomId", "msgId", "text"],
)


@route("POST", "chat.update", validate=_UPDATE)
async def chat_update(req: ApiRequest) -> dict[str, Any]:
    """chat.update {roomId, msgId, text}: executeUpdateMessage, then the edited message."""
    state, body = req.state, req.body
    found = state.messages.get(body["msgId"])
    if found is None:
        raise Failure(f'No message found with the id of "{body["msgId"]}".')
    if body["roomId"] != found.get("rid"):
        raise Failure("The room id provided does not match where the message is from.")
    edits.update_message(state, found, req.user_id, body["text"])
    return success({"message": clone(found)})


# -- im.* / dm.* ---------------------------------------------------------------------------------


_DM_CREATE = one_of(
    _schema({"username": {"type": "string"}, "excludeSelf": _nullable("boolean")}, ["username"]),
    _schema({"usernames": {"type": "string"}, "excludeSelf": _nullable("boolean")}, ["usernames"]),
)


async def _dm_create(req: ApiRequest) -> dict[str, Any]:
    body = req.body
    if "username" in body:
        users = [body["username"]]
    else:
        users = [name.strip() for name in body["usernames"].split(",")]
    room = create_direct_message(req.state, users, req.user_id, bool(body.get("excludeSelf")))
    return success({"room": {**room, "_id": room["rid"]}})


for _name in ("im.create", "dm.create"):
    route("POST", _name, validate=_DM_CREATE)(_dm_create)

_HISTORY_FIELDS = {
    "latest": {"type": "string", "minLength": 1},
    "showThreadMessages": {"type": "string", "enum": ["true", "false"]},
    "oldest": {"type": "string", "minLength": 1},
    "inclusive": {"type": "string", "enum": ["true", "false"]},
    "unreads": {"type": "string", "enum": ["true", "false"]},
    "count": {"type": "number"},
    "offset": {"type": "number"},
}


def _pagination(state: SandboxState, query: dict[str, Any]) -> tuple[int, int]:
    """getPaginationItems: (offset, count) with API_Default_Count / API_Upper_Count_Limit."""
    upper = int(state.settings.get("API_Upper_Count_Limit", 100) or 0)
    upper = upper if upper > 0 else 100
    default = int(state.settings.get("API_Default_Count", 50) or 0)
    default = default if default > 0 else 50
    offset = _parse_int(query.get("offset")) if query.get("offset") else 0
    count = _parse_int(query["count"]) if query.get("count") is not None else default
    count = min(count, upper)
    if count == 0 and not state.settings.get("API_Allow_Infinite_Count", True):
        count = default
    return offset, count


def _parse_int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def channel_history(
    state: SandboxState, room: dict[str, Any], user_id: str, query: dict[str, Any]
) -> dict[str, Any]:
    """getChannelHistory for channels.history / im.history; 403 when the room is not readable."""
    offset, count = _pagination(state, query)
    can_read = rooms.can_access_room(state, room, user_id) or (
        room.get("t") == "c" and permissions.has_permission(state, user_id, "preview-c-room")
    )
    if not can_read:
        raise RawResponse(403, dict(FORBIDDEN))
    latest = parse_date(query.get("latest")) if query.get("latest") else None
    oldest = parse_date(query.get("oldest")) if query.get("oldest") else None
    show_threads = query.get("showThreadMessages") == "true"
    records = history.visible_messages(
        state,
        room["_id"],
        # new Date() of the request; +1 ms so a message saved in the same millisecond, which
        # in the sandbox is always saved before this request, is not lost to the race.
        latest=latest or now() + timedelta(milliseconds=1),
        oldest=oldest,
        inclusive=query.get("inclusive") == "true",
        show_thread_messages=show_threads,
    )
    messages = records[offset : offset + count] if count > 0 else records[offset:]
    result: dict[str, Any] = {"messages": messages}
    if query.get("unreads") == "true":
        unread_not_loaded = 0
        if oldest is not None and messages and messages[-1]["ts"] > oldest:
            between = [
                m
                for m in history.visible_messages(
                    state, room["_id"], show_thread_messages=show_threads
                )
                if oldest < m["ts"] < messages[-1]["ts"]
            ]
            if between:
                result["firstUnread"] = between[-1]
            unread_not_loaded = len(between)
        result["unreadNotLoaded"] = unread_not_loaded
    return result


_IM_HISTORY = _schema(
    {"roomId": {"type": "string", "minLength": 1}, **_HISTORY_FIELDS}, ["roomId"]
)


async def _im_history(req: ApiRequest) -> dict[str, Any]:
    assert req.user is not None
    room = room_by_name_or_id_to_join(req.state, req.user, req.query["roomId"], room_type="d")
    if room is None or room.get("t") != "d":
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" param provided does not match any direct message',
        )
    return success(channel_history(req.state, room, req.user_id, req.query))


for _name in ("im.history", "dm.history"):
    route("GET", _name, validate=_IM_HISTORY)(_im_history)


# -- channels.* ----------------------------------------------------------------------------------


def find_channel(
    state: SandboxState, params: dict[str, Any], *, checked_archived: bool = True
) -> dict[str, Any]:
    """findChannelByIdOrName: a public channel by `roomId` or `roomName`."""
    room = None
    if "roomId" in params:
        room = state.rooms.get(str(params.get("roomId") or ""))
    elif "roomName" in params:
        room = rooms.room_by_name(state, str(params.get("roomName") or ""))
    if room is None or room.get("t") not in ("c", "l"):
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" or "roomName" param provided does not match any channel',
        )
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The channel, {room.get('name')}, is archived")
    return room


_CHANNELS_HISTORY = one_of(
    _schema({"roomId": {"type": "string"}, **_HISTORY_FIELDS}, ["roomId"]),
    _schema({"roomName": {"type": "string"}, **_HISTORY_FIELDS}, ["roomName"]),
)


@route("GET", "channels.history", validate=_CHANNELS_HISTORY)
async def channels_history(req: ApiRequest) -> dict[str, Any]:
    """channels.history?roomId|roomName&latest&oldest&inclusive&count&offset&unreads."""
    room = find_channel(req.state, req.query, checked_archived=False)
    return success(channel_history(req.state, room, req.user_id, req.query))


_MEMBER_FIELDS = ("_id", "username", "name", "status", "statusText", "utcOffset")


def _members_page(
    state: SandboxState, room: dict[str, Any], query: dict[str, str]
) -> dict[str, Any]:
    """findUsersOfRoom: active members sorted by username, paged by offset/count."""
    try:
        offset = max(0, int(query.get("offset") or 0))
        count = max(0, int(query.get("count") or 50))
    except ValueError:
        raise MeteorError("invalid-params", "must be integer [invalid-params]") from None
    needle = str(query.get("filter") or "").casefold()
    member_ids = {
        sub["u"]["_id"] for sub in state.subscriptions.values() if sub.get("rid") == room["_id"]
    }
    members = [
        {key: user[key] for key in _MEMBER_FIELDS if key in user}
        for user in state.users.values()
        if user["_id"] in member_ids
        and user.get("active", True)
        and (
            not needle
            or needle in str(user.get("username", "")).casefold()
            or needle in str(user.get("name", "")).casefold()
        )
    ]
    members.sort(key=lambda member: str(member.get("username", "")))
    page = members[offset : offset + count] if count else members[offset:]
    return {"members": page, "count": len(page), "offset": offset, "total": len(members)}


@route("GET", "channels.members")
async def channels_members(req: ApiRequest) -> dict[str, Any]:
    """channels.members?roomId|roomName&offset&count&filter: the channel's members."""
    room = find_channel(req.state, req.query, checked_archived=False)
    return success(_members_page(req.state, room, req.query))


@route("GET", "groups.members")
async def groups_members(req: ApiRequest) -> dict[str, Any]:
    """groups.members?roomId|roomName: only for members of the private group."""
    state, query = req.state, req.query
    room = None
    if query.get("roomId"):
        room = state.rooms.get(str(query["roomId"]))
    elif query.get("roomName"):
        room = rooms.room_by_name(state, str(query["roomName"]))
    if (
        room is None
        or room.get("t") != "p"
        or state.subscription(room["_id"], req.user_id) is None
    ):
        raise MeteorError(
            "error-room-not-found",
            'The required "roomId" or "roomName" param provided does not match any group',
        )
    return success(_members_page(state, room, query))


def _valid_room_name(state: SandboxState, name: str) -> str:
    """getValidRoomName: the channel-name pattern, then uniqueness."""
    pattern = state.settings.get("UTF8_Channel_Names_Validation", "[0-9a-zA-Z-_.]+")
    try:
        valid = re.fullmatch(str(pattern), name) is not None
    except re.error:
        valid = re.fullmatch("[0-9a-zA-Z-_.]+", name) is not None
    if not valid:
        raise MeteorError(
            "error-invalid-room-name",
            f"{name} is not a valid room name.",
            {"function": "RocketChat.getValidRoomName", "channel_name": name},
        )
    existing = rooms.room_by_name(state, name)
    if existing is not None:
        if existing.get("archived"):
            raise MeteorError(
                "error-archived-duplicate-name",
                f"There's an archived channel with name {name}",
                {"function": "RocketChat.getValidRoomName", "channel_name": name},
            )
        raise MeteorError(
            "error-duplicate-channel-name",
            f"A channel with name '{name}' exists",
            {"function": "RocketChat.getValidRoomName", "channel_name": name},
        )
    return name


@route("POST", "channels.create")
async def channels_create(req: ApiRequest) -> dict[str, Any]:
    """channels.create {name, members?, readOnly?, customFields?, extraData?, excludeSelf?}."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    if not permissions.has_permission(state, req.user_id, "create-c"):
        raise RawResponse(403, dict(FORBIDDEN))
    if not body.get("name"):
        raise Failure('Param "name" is required')
    if body.get("members") and not isinstance(body["members"], list):
        raise Failure('Param "members" must be an array if provided')
    if body.get("customFields") and not isinstance(body["customFields"], dict):
        raise Failure('Param "customFields" must be an object if provided')
    name = body["name"]
    check(name, str)
    members = body.get("members") or []
    check(members, Maybe([str]))
    assert req.user is not None
    extra = dict(body.get("extraData") or {}) if isinstance(body.get("extraData"), dict) else {}
    if isinstance(body.get("customFields"), dict):
        extra = {"customFields": body["customFields"], **extra}
    valid = _valid_room_name(state, name.strip())
    room = rooms.create_room(
        state,
        "c",
        valid,
        req.user,
        list(members),
        read_only=body.get("readOnly") is True,
        extra=extra,
        exclude_self=bool(body.get("excludeSelf")),
        fname=name,
    )
    return success({"channel": _public_room(room)})


def _public_room(room: dict[str, Any]) -> dict[str, Any]:
    """API.v1.defaultFieldsToExclude: no joinCode, members, importIds, e2e."""
    return {k: v for k, v in room.items() if k not in ("joinCode", "members", "importIds", "e2e")}


def user_list_from_params(state: SandboxState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """getUserListFromParams: userId/username/user plus userIds/usernames, all must exist."""
    sole = params.get("userId") or params.get("username") or params.get("user")
    wanted = list(params.get("userIds") or params.get("usernames") or [])
    wanted.append(sole or "")
    names = list(dict.fromkeys(str(item) for item in wanted if item))
    if not names:
        return []
    found = []
    for item in names:
        user = state.users.get(item) or _exact_username(state, item)
        if user is not None:
            found.append(user)
    if len(found) != len(names):
        raise MeteorError(
            "error-users-params-not-found",
            'The required "userIds" or "usernames" param provided does not match any user',
        )
    return found


@route("POST", "channels.invite")
async def channels_invite(req: ApiRequest) -> dict[str, Any]:
    """channels.invite {roomId|roomName, userId|username|userIds|usernames}: `{channel}`."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    room = find_channel(state, body)
    users = user_list_from_params(state, body)
    if not users:
        raise Failure(
            "invalid-user-invite-list", error_type="Cannot invite if no users are provided"
        )
    add_users_to_room(state, req.user_id, room["_id"], [u["username"] for u in users])
    return success({"channel": _public_room(find_channel(state, body))})


def add_users_to_room(
    state: SandboxState, user_id: str, room_id: str, usernames: list[str]
) -> None:
    """addUsersToRoom: permission, then each user (already-members get an ephemeral)."""
    room = state.rooms.get(room_id)
    if room is None:
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUsersToRoom"})
    member = state.subscription(room_id, user_id) is not None
    allowed = (
        (member and permissions.has_permission(state, user_id, "add-user-to-joined-room", room_id))
        or (
            room.get("t") == "c"
            and permissions.has_permission(state, user_id, "add-user-to-any-c-room")
        )
        or (
            room.get("t") == "p"
            and permissions.has_permission(state, user_id, "add-user-to-any-p-room")
        )
    )
    if not allowed:
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "addUsersToRoom"})
    if room.get("t") not in ("c", "p"):
        raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUsersToRoom"})
    inviter = state.users[user_id]
    for username in usernames:
        new_user = state.user_by_username(username)
        if new_user is None:
            raise MeteorError(
                "error-user-not-found", "User not found", {"method": "addUsersToRoom"}
            )
        if state.subscription(room_id, new_user["_id"]) is None:
            rooms.add_user_to_room(state, room_id, new_user, inviter=inviter)
        else:
            text = system.translate("Username_is_already_in_here", new_user["username"])
            system.ephemeral(state, user_id, room_id, text)


# -- subscriptions.get ---------------------------------------------------------------------------


@route("GET", "subscriptions.get", validate=_schema({"updatedSince": {"type": "string"}}, []))
async def subscriptions_get(req: ApiRequest) -> dict[str, Any]:
    """subscriptions.get?updatedSince=: `{update, remove}`."""
    since_text = req.query.get("updatedSince")
    since = None
    if since_text:
        since = parse_date(since_text)
        if since is None:
            raise MeteorError(
                "error-roomId-param-invalid",
                'The "lastUpdate" query parameter must be a valid date.',
            )
    result = subscriptions_for(req.state, req.user_id, since)
    if isinstance(result, list):
        return success({"update": result, "remove": []})
    return success(result)
