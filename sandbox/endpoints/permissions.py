"""Permissions over REST: `permissions.listAll` and `permissions.update` (admin)."""

from __future__ import annotations

from typing import Any

from sandbox import permissions
from sandbox.api import ApiRequest, route, success
from sandbox.errors import RawResponse
from sandbox.state import SandboxState
from sandbox.validation import compile_schema

update_schema = compile_schema(
    {
        "type": "object",
        "properties": {
            "permissions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "_id": {"type": "string"},
                        "roles": {
                            "type": "array",
                            "items": {"type": "string"},
                            "uniqueItems": True,
                        },
                    },
                    "required": ["_id", "roles"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["permissions"],
        "additionalProperties": False,
    }
)


def _documents(state: SandboxState) -> list[dict[str, Any]]:
    updated = state.runtime.setdefault("permissions_updated", {})
    started = state.runtime.setdefault("permissions_seeded_at", state.clock())
    return [
        {"_id": pid, "roles": list(roles), "_updatedAt": updated.get(pid, started)}
        for pid, roles in sorted(state.permissions.items())
    ]


@route("GET", "permissions.listAll")
async def list_all(req: ApiRequest) -> dict[str, Any]:
    """GET permissions.listAll → {update: [{_id, roles, _updatedAt}], remove: []}."""
    return success({"update": _documents(req.state), "remove": []})


@route("POST", "permissions.update", permissions=("access-permissions",), validate=update_schema)
async def update(req: ApiRequest) -> dict[str, Any]:
    """POST permissions.update {permissions: [{_id, roles}]} → {permissions: [...]}."""
    state = req.state
    wanted = req.body["permissions"]
    if any(entry["_id"] not in state.permissions for entry in wanted):
        raise RawResponse(
            400,
            {
                "success": False,
                "error": "Invalid permission",
                "errorType": "error-invalid-permission",
            },
        )
    known = permissions.known_roles(state)
    if any(role not in known for entry in wanted for role in entry["roles"]):
        raise RawResponse(
            400, {"success": False, "error": "Invalid role", "errorType": "error-invalid-role"}
        )
    updated = state.runtime.setdefault("permissions_updated", {})
    for entry in wanted:
        state.permissions[entry["_id"]] = list(entry["roles"])
        updated[entry["_id"]] = state.clock()
    return success({"permissions": _documents(state)})
