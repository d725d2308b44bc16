"""users.setAvatar, users.resetAvatar and users.getAvatar.

Rocket.Chat 7.x: apps/meteor/app/api/server/v1/users.ts, setUserAvatar and checkUrlForSsrf
(app/lib/server/functions/setUserAvatar.ts, checkUrlForSsrf.ts: private and loopback
addresses are refused before any fetch), server/methods/resetAvatar.ts, and the
`user.avatarUpdate` broadcast that reaches clients as stream-notify-logged `updateAvatar`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.ddp_client import Realtime, User

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def upload(
    realtime: Realtime, user: User, *, fields: dict[str, str] | None = None, image: bool = True
) -> Any:
    form = aiohttp.FormData()
    for key, value in (fields or {}).items():
        form.add_field(key, value)
    if image:
        form.add_field("image", PNG, filename="me.png", content_type="image/png")
    return await realtime.rest("POST", "users.setAvatar", user, data=form)


async def test_an_uploaded_image_becomes_the_avatar_and_is_announced(
    realtime: Realtime,
) -> None:
    alice = await realtime.user("alice")
    async with realtime.ddp(alice) as watcher:
        await watcher.sub("stream-notify-logged", "updateAvatar", False)
        reply = await upload(realtime, alice)
        assert reply.body == {"success": True}
        stored = realtime.state.users[alice.user_id]
        assert stored["avatarOrigin"] == "rest" and stored["avatarETag"]
        args = await watcher.event("stream-notify-logged", "updateAvatar", lambda a: True)
        assert args == [{"username": "alice", "avatarETag": stored["avatarETag"]}]
    assert realtime.state.runtime["avatars"][alice.user_id] == ("image/png", PNG)


async def test_without_an_image_or_url_the_image_is_required(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="me.png", content_type="image/png")  # not `image`
    reply = await realtime.rest("POST", "users.setAvatar", alice, data=form)
    assert reply.body == {"success": False, "error": "The 'image' param is required"}
    empty = await realtime.rest("POST", "users.setAvatar", alice, json={})
    assert empty.body == {"success": False, "error": "The 'image' param is required"}
    # Plain form fields are bodyParams, checked by the schema like JSON.
    extra = await upload(realtime, alice, image=False, fields={"note": "x"})
    assert extra.body["error"] == "must NOT have additional properties [invalid-params]"


async def test_private_and_loopback_urls_are_refused_before_any_fetch(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    for url in (f"{realtime.url}/api/info", "http://127.0.0.1/a.png", "ftp://example.com/a"):
        reply = await realtime.rest("POST", "users.setAvatar", alice, json={"avatarUrl": url})
        assert reply.body == {
            "success": False,
            "error": f"Invalid avatar URL: {url} [error-avatar-invalid-url]",
            "errorType": "error-avatar-invalid-url",
            "details": {"function": "setUserAvatar", "url": url},
        }
    assert "avatarOrigin" not in realtime.state.users[alice.user_id]


async def test_someone_elses_avatar_needs_edit_other_user_avatar(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    by_body = await realtime.rest(
        "POST", "users.setAvatar", alice, json={"userId": bob.user_id, "avatarUrl": "http://x.y"}
    )
    assert by_body.status == 403 and by_body.body == {"success": False, "error": "unauthorized"}
    by_form = await upload(realtime, alice, fields={"username": "bob"})
    assert by_form.body == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
    }
    admin = await upload(realtime, realtime.admin, fields={"userId": bob.user_id})
    assert admin.body == {"success": True}
    assert realtime.state.users[bob.user_id]["avatarOrigin"] == "rest"


async def test_avatar_changes_can_be_switched_off(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    realtime.state.settings["Accounts_AllowUserAvatarChange"] = False
    reply = await upload(realtime, alice)
    assert reply.body == {
        "success": False,
        "error": "Change avatar is not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "users.setAvatar"},
    }
    reset = await realtime.rest("POST", "users.resetAvatar", alice, json={"username": "alice"})
    assert reset.body["error"] == "Reset avatar is not allowed [error-not-allowed]"


async def test_reset_avatar_returns_to_the_initials(realtime: Realtime) -> None:
    alice = await realtime.user("alice")
    bob = await realtime.user("bob")
    await upload(realtime, alice)
    reply = await realtime.rest("POST", "users.resetAvatar", alice, json={"userId": alice.user_id})
    assert reply.body == {"success": True}
    stored = realtime.state.users[alice.user_id]
    assert "avatarOrigin" not in stored and "avatarETag" not in stored
    others = await realtime.rest("POST", "users.resetAvatar", bob, json={"username": "alice"})
    assert others.body["errorType"] == "error-not-allowed"
    nobody = await realtime.rest("POST", "users.resetAvatar", alice, json={})
    assert nobody.body["errorType"] == "error-user-param-not-provided"


async def test_get_avatar_redirects_to_the_avatar_url_without_a_login(realtime: Realtime) -> None:
    await realtime.user("alice")
    async with realtime.http.get(
        f"{realtime.url}/api/v1/users.getAvatar",
        params={"username": "alice"},
        allow_redirects=False,
    ) as reply:
        assert reply.status == 307
        assert reply.headers["Location"] == f"{realtime.url}/avatar/alice"
        assert await reply.json() == f"{realtime.url}/avatar/alice"
    realtime.state.settings["Site_Url"] = "https://chat.example.com/"
    async with realtime.http.get(
        f"{realtime.url}/api/v1/users.getAvatar",
        params={"username": "alice"},
        allow_redirects=False,
    ) as reply:
        assert reply.headers["Location"] == "https://chat.example.com/avatar/alice"
    missing = await realtime.rest("GET", "users.getAvatar", params={"username": "nobody"})
    assert missing.body["errorType"] == "error-invalid-user"
