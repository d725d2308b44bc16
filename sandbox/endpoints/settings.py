"""Settings over REST: `settings/:_id` (GET/POST, admin) and `settings.public` (no auth)."""

from __future__ import annotations

from typing import Any

from sandbox import settings_defaults
from sandbox.api import ApiRequest, route, success
from sandbox.errors import MeteorError, RawResponse
from sandbox.state import SandboxState
from sandbox.twofactor import TwoFactorOptions


def _visible(state: SandboxState, setting_id: str) -> bool:
    """The setting exists and is not hidden (Settings.findOneNotHiddenById)."""
    definition = settings_defaults.BY_ID.get(setting_id)
    return setting_id in state.settings and not (definition and definition.hidden)


def _is_public(setting_id: str) -> bool:
    definition = settings_defaults.BY_ID.get(setting_id)
    return bool(definition and definition.public and not definition.hidden)


@route("GET", "settings/:_id", permissions=("view-privileged-setting",))
async def get_setting(req: ApiRequest) -> dict[str, Any]:
    """GET settings/<id> → {_id, value} (`view-privileged-setting`)."""
    setting_id = req.url_params["_id"]
    if not _visible(req.state, setting_id):
        raise RawResponse(400, {"success": False})  # API.v1.failure() without a text
    return success({"_id": setting_id, "value": req.state.settings[setting_id]})


def _value_fits(setting_id: str, value: Any) -> bool:
    definition = settings_defaults.BY_ID.get(setting_id)
    if definition is None:
        return True
    if definition.type == "boolean":
        return isinstance(value, bool)
    if definition.type == "int":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str) or definition.type == "multiSelect"


@route(
    "POST",
    "settings/:_id",
    permissions=("edit-privileged-setting",),
    two_factor=TwoFactorOptions(),
)
async def set_setting(req: ApiRequest) -> dict[str, Any]:
    """POST settings/<id> {value} (`edit-privileged-setting` and a second factor)."""
    setting_id = req.url_params.get("_id")
    if not isinstance(setting_id, str):
        raise MeteorError("error-id-param-not-provided", 'The parameter "id" is required')
    if not _visible(req.state, setting_id):
        raise RawResponse(400, {"success": False})
    body = req.body if isinstance(req.body, dict) else {}
    if "value" not in body or not _value_fits(setting_id, body["value"]):
        raise RawResponse(400, {"success": False})
    req.state.settings[setting_id] = body["value"]
    return success()


def _paging(state: SandboxState, query: dict[str, str]) -> tuple[int, int]:
    """getPaginationItems: offset and count (default API_Default_Count, max upper limit)."""
    try:
        offset = max(0, int(query.get("offset", 0)))
    except ValueError:
        offset = 0
    default = int(state.settings.get("API_Default_Count") or 50)
    upper = int(state.settings.get("API_Upper_Count_Limit") or 100)
    try:
        count = int(query.get("count", default))
    except ValueError:
        count = default
    if count <= 0 or count > upper:
        count = upper if count > upper else default
    return offset, count


@route("GET", "settings.public", auth=False)
async def public_settings(req: ApiRequest) -> dict[str, Any]:
    """GET settings.public[?_id=a,b] → {settings:[{_id, value}], count, offset, total}."""
    state = req.state
    wanted_raw = req.query.get("_id")
    wanted = {part.strip() for part in wanted_raw.split(",")} if wanted_raw else None
    ids = sorted(
        setting_id
        for setting_id in state.settings
        if _is_public(setting_id) and (wanted is None or setting_id in wanted)
    )
    offset, count = _paging(state, req.query)
    page = ids[offset : offset + count]
    settings = [{"_id": setting_id, "value": state.settings[setting_id]} for setting_id in page]
    return success(
        {"settings": settings, "count": len(settings), "offset": offset, "total": len(ids)}
    )
