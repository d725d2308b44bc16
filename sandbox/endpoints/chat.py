"""REST chat.* (reference §7): post, send, get, react, delete and update messages.

Bodies, errors and status codes follow apps/meteor/app/api/server/v1/chat.ts and the functions
it calls (processWebhookMessage, executeSendMessage, executeSetReaction,
deleteMessageValidatingPermission, executeUpdateMessage).
"""

from __future__ import annotations

from typing import Any

from sandbox import permissions, rooms
from sandbox.api import ApiRequest, route, success
from sandbox.errors import Failure, MeteorError, PlainError, RawResponse
from sandbox.messaging import deletion, edits, reactions, sending, system
from sandbox.state import SandboxState, clone, now, to_ms
from sandbox.validation import Validator, closed_object, compile_schema, nullable, one_of


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
        "text": nullable("string"),
        "alias": nullable("string"),
        "emoji": nullable("string"),
        "avatar": nullable("string"),
        "attachments": {"type": "array", "items": {"type": "object"}, "nullable": True},
    }
    if with_tmid:
        properties["tmid"] = {"type": "string"}
    properties["customFields"] = nullable("object")
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


def process_webhook_message(
    state: SandboxState, body: dict[str, Any], user: dict[str, Any]
) -> list[tuple[str, dict[str, Any] | None]]:
    """processWebhookMessage: send to each channel, joining public ones; (channel, message)."""
    targets = body.get("channel") or body.get("roomId") or ""
    channels = list(dict.fromkeys(targets if isinstance(targets, list) else [targets]))
    sent: list[tuple[str, dict[str, Any] | None]] = []
    for channel in channels:
        if channel.startswith("#"):
            room = rooms.room_by_name_or_id_to_join(state, user, channel[1:])
        elif channel.startswith("@"):
            room = rooms.room_by_name_or_id_to_join(state, user, channel[1:], room_type="d")
        else:
            room = rooms.room_by_name_or_id_to_join(state, user, channel, error_on_empty=False)
            if room is None:
                room = rooms.room_by_name_or_id_to_join(
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


_SEND_MESSAGE = closed_object(
    {
        "message": {
            "type": "object",
            "properties": {
                "_id": nullable("string"),
                "rid": {"type": "string"},
                "tmid": nullable("string"),
                "msg": nullable("string"),
                "alias": nullable("string"),
                "emoji": nullable("string"),
                "tshow": nullable("boolean"),
                "avatar": nullable("string"),
                "attachments": {"type": "array", "items": {"type": "object"}, "nullable": True},
                "blocks": {"type": "array", "items": {"type": "object"}, "nullable": True},
                "customFields": nullable("object"),
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
    validate=closed_object({"msgId": {"type": "string", "minLength": 1}}, ["msgId"]),
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
    return closed_object(
        {
            key: {"type": "string"},
            "messageId": {"type": "string", "minLength": 1},
            "shouldReact": nullable("boolean"),
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


_DELETE = closed_object(
    {"msgId": {"type": "string"}, "roomId": {"type": "string"}, "asUser": nullable("boolean")},
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


_UPDATE = closed_object(
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
