"""User avatars: REST users.setAvatar, users.resetAvatar and users.getAvatar.

Follows Rocket.Chat 7.x's apps/meteor/app/api/server/v1/users.ts with setUserAvatar /
setAvatarFromServiceWithValidation (app/lib/server/functions/setUserAvatar.ts), checkUrlForSsrf
(app/lib/server/functions/checkUrlForSsrf.ts), resetAvatar (server/methods/resetAvatar.ts) and
rest-typings' UsersSetAvatarParamsPOST. An avatar is stored as the user's `avatarOrigin` and
`avatarETag` and announced as `updateAvatar` on stream-notify-logged; the image bytes live in
the sandbox's runtime only (they are not persisted with --data).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from sandbox import permissions
from sandbox.api import ApiRequest, route, success
from sandbox.endpoints.auth import base_url
from sandbox.endpoints.channels import FORBIDDEN
from sandbox.endpoints.users import is_user_from_params, user_from_params
from sandbox.errors import Failure, MeteorError, RawResponse
from sandbox.state import SandboxState, random_id
from sandbox.validation import closed_object, nullable

_SET_AVATAR = closed_object(
    {
        "avatarUrl": nullable("string"),
        "userId": nullable("string"),
        "username": nullable("string"),
    },
    [],
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9-]{1,63}\.)+[a-zA-Z]{2,63}$")
_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


async def _ssrf_safe(url: str) -> bool:
    """checkUrlForSsrf: http(s) only; the host (no port) an IPv4 address or a domain name, and
    neither a private/loopback address nor a name that resolves to one."""
    if not url.startswith(("http://", "https://")):
        return False
    host = url.split("//", 1)[1].split("/", 1)[0]
    try:
        ipaddress.IPv4Address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if is_ip:
        return not _private(host)
    if not _DOMAIN.match(host) or "metadata.google.internal" in host:
        return False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return not any(_private(str(info[4][0])) for info in infos)


def _invalid_url(url: str, *, encoded: bool = True) -> MeteorError:
    shown = quote(url, safe=";,/?:@&=+$-_.!~*'()#") if encoded else url  # encodeURI
    return MeteorError(
        "error-avatar-invalid-url",
        f"Invalid avatar URL: {shown}",
        {"function": "setUserAvatar", "url": url},
    )


async def _fetch_image(user: dict[str, Any], url: str) -> tuple[bytes, str]:
    """setUserAvatar's 'url' service: an image answered with 200, no redirects."""
    if not await _ssrf_safe(url):
        raise _invalid_url(url)
    try:
        async with (
            aiohttp.ClientSession(timeout=_FETCH_TIMEOUT) as http,
            http.get(url, allow_redirects=False) as reply,
        ):
            body = await reply.read()
            status, content_type = reply.status, reply.headers.get("Content-Type", "")
    except (aiohttp.ClientError, TimeoutError):
        raise _invalid_url(url) from None
    if status != 200:
        if status != 404:
            raise MeteorError(
                "error-avatar-url-handling",
                f"Error while handling avatar setting from a URL ({url}) for "
                f"{user.get('username')}",
                {"function": "RocketChat.setUserAvatar", "url": url, "username": user["username"]},
            )
        raise _invalid_url(url, encoded=False)
    if not re.search(r"image/.+", content_type):
        raise _invalid_url(url, encoded=False)
    return body, content_type


def set_user_avatar(
    state: SandboxState, user: dict[str, Any], image: bytes, content_type: str, service: str
) -> None:
    """The end of setUserAvatar: replace the stored file, record origin and ETag, announce."""
    if service == "rest" and not content_type:
        raise MeteorError(
            "error-avatar-invalid-content-type",
            "Invalid avatar content type",
            {"function": "setUserAvatar"},
        )
    etag = random_id()
    state.runtime.setdefault("avatars", {})[user["_id"]] = (content_type, image)
    user["avatarOrigin"] = service
    user["avatarETag"] = etag
    user["_updatedAt"] = state.clock()
    state.bus.notify_logged(
        "updateAvatar", [{"username": user.get("username"), "avatarETag": etag}]
    )


async def _uploaded_image(req: ApiRequest) -> tuple[Any, dict[str, str]]:
    """getUploadFormData(field 'image'): the file part and the other form fields."""
    if req.http.content_type != "multipart/form-data":
        return None, {}
    form = await req.http.post()
    image = form.get("image")
    fields = {k: str(v) for k, v in form.items() if k != "image" and isinstance(v, str)}
    return (image if isinstance(image, web.FileField) else None), fields


@route("POST", "users.setAvatar", validate=_SET_AVATAR)
async def users_set_avatar(req: ApiRequest) -> dict[str, Any]:
    """users.setAvatar {avatarUrl?, userId?, username?} or a multipart `image` (+ userId or
    username fields): the caller's avatar, or anyone's with edit-other-user-avatar."""
    state, body = req.state, req.body
    assert req.user is not None
    can_edit_others = permissions.has_permission(state, req.user_id, "edit-other-user-avatar")
    if not state.settings.get("Accounts_AllowUserAvatarChange") and not can_edit_others:
        raise MeteorError(
            "error-not-allowed", "Change avatar is not allowed", {"method": "users.setAvatar"}
        )
    user: dict[str, Any] | None = None
    if is_user_from_params(body, req.user):
        user = req.user
    elif can_edit_others:
        user = user_from_params(state, body)
    if user is None:
        raise RawResponse(403, dict(FORBIDDEN))
    if body.get("avatarUrl"):
        image, content_type = await _fetch_image(user, body["avatarUrl"])
        set_user_avatar(state, user, image, content_type, "url")
        return success()
    upload, fields = await _uploaded_image(req)
    if upload is None:
        raise Failure("The 'image' param is required")
    if fields.get("userId") or fields.get("username"):
        chosen = (
            state.users.get(fields["userId"])
            if fields.get("userId")
            else state.user_by_username(fields["username"])
        )
        if chosen is None:
            raise MeteorError(
                "error-invalid-user",
                'The optional "userId" or "username" param provided does not match any users',
            )
        if chosen["_id"] != req.user_id and not can_edit_others:
            raise MeteorError("error-not-allowed", "Not allowed")
        user = chosen
    set_user_avatar(state, user, upload.file.read(), upload.content_type or "", "rest")
    return success()


def reset_avatar(state: SandboxState, caller_id: str, target_id: str) -> None:
    """resetAvatar: back to the initials; origin and ETag removed and announced."""
    can_edit_others = permissions.has_permission(state, caller_id, "edit-other-user-avatar")
    if not state.settings.get("Accounts_AllowUserAvatarChange") and not can_edit_others:
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "resetAvatar"})
    if target_id != caller_id and not can_edit_others:
        raise MeteorError("error-unauthorized", "Unauthorized", {"method": "resetAvatar"})
    user = state.users.get(target_id)
    if user is None:
        raise MeteorError(
            "error-invalid-desired-user", "Invalid desired user", {"method": "resetAvatar"}
        )
    state.runtime.setdefault("avatars", {}).pop(target_id, None)
    user.pop("avatarOrigin", None)
    user.pop("avatarETag", None)
    user["_updatedAt"] = state.clock()
    state.bus.notify_logged("updateAvatar", [{"username": user.get("username")}])


@route("POST", "users.resetAvatar")
async def users_reset_avatar(req: ApiRequest) -> dict[str, Any]:
    """users.resetAvatar {userId|username}: one's own (if avatar changes are allowed), or
    anyone's with edit-other-user-avatar or manage-moderation-actions."""
    state = req.state
    body = req.body if isinstance(req.body, dict) else {}
    user = user_from_params(state, body)
    if state.settings.get("Accounts_AllowUserAvatarChange") and user["_id"] == req.user_id:
        reset_avatar(state, req.user_id, req.user_id)
    elif permissions.has_any(
        state, req.user_id, ("edit-other-user-avatar", "manage-moderation-actions")
    ):
        reset_avatar(state, req.user_id, user["_id"])
    else:
        raise MeteorError(
            "error-not-allowed", "Reset avatar is not allowed", {"method": "users.resetAvatar"}
        )
    return success()


@route("GET", "users.getAvatar", auth=False)
async def users_get_avatar(req: ApiRequest) -> dict[str, Any]:
    """users.getAvatar?userId|username: 307 to `<Site_Url>/avatar/<username>`."""
    user = user_from_params(req.state, req.query)
    site = str(req.state.settings.get("Site_Url") or "").rstrip("/") or base_url(req)
    url = f"{site}/avatar/{user.get('username')}"
    req.headers_out["Location"] = url
    raise RawResponse(307, url)
