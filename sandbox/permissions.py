"""Roles and permissions, as Rocket.Chat seeds them (authorization/server/constant/permissions.ts).

`state.permissions` maps a permission id to the role names that hold it. A user holds a role
globally (`user["roles"]`) or in a room (`subscription["roles"]`, e.g. owner/moderator).
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.state import SandboxState

# Rocket.Chat's protected default roles (upsertPermissions.ts), with their scope.
DEFAULT_ROLES: dict[str, str] = {
    "admin": "Users",
    "moderator": "Subscriptions",
    "leader": "Subscriptions",
    "owner": "Subscriptions",
    "user": "Users",
    "bot": "Users",
    "app": "Users",
    "guest": "Users",
    "anonymous": "Users",
    "livechat-agent": "Users",
    "livechat-manager": "Users",
}

_ALL_USERS = ["admin", "user", "federated-external", "bot", "app"]

# The non-omnichannel part of Rocket.Chat's default permission table.
DEFAULT_PERMISSIONS: dict[str, list[str]] = {
    "access-permissions": ["admin"],
    "access-marketplace": ["admin", "user"],
    "access-setting-permissions": ["admin"],
    "add-oauth-service": ["admin"],
    "add-user-to-joined-room": ["admin", "owner", "moderator"],
    "add-user-to-any-c-room": ["admin"],
    "add-user-to-any-p-room": [],
    "kick-user-from-any-c-room": ["admin"],
    "kick-user-from-any-p-room": [],
    "api-bypass-rate-limit": ["admin", "bot", "app"],
    "archive-room": ["admin", "owner"],
    "assign-admin-role": ["admin"],
    "assign-roles": ["admin"],
    "ban-user": ["admin", "owner", "moderator"],
    "bulk-register-user": ["admin"],
    "create-c": list(_ALL_USERS),
    "create-d": list(_ALL_USERS),
    "create-p": list(_ALL_USERS),
    "create-personal-access-tokens": ["admin", "user"],
    "create-user": ["admin"],
    "clean-channel-history": ["admin"],
    "delete-c": ["admin", "owner"],
    "delete-d": ["admin"],
    "delete-message": ["admin", "owner", "moderator"],
    "delete-own-message": ["admin", "user", "federated-external"],
    "delete-p": ["admin", "owner"],
    "delete-user": ["admin"],
    "edit-message": ["admin", "owner", "moderator"],
    "edit-other-user-active-status": ["admin"],
    "edit-other-user-info": ["admin"],
    "edit-other-user-password": ["admin"],
    "edit-other-user-avatar": ["admin"],
    "edit-other-user-e2ee": ["admin"],
    "edit-other-user-totp": ["admin"],
    "edit-privileged-setting": ["admin"],
    "edit-room": ["admin", "owner", "moderator"],
    "edit-room-avatar": ["admin", "owner", "moderator"],
    "edit-room-retention-policy": ["admin"],
    "force-delete-message": ["admin", "owner"],
    "join-without-join-code": ["admin", "bot", "app"],
    "leave-c": ["admin", "user", "federated-external", "bot", "anonymous", "app"],
    "leave-p": ["admin", "user", "federated-external", "bot", "anonymous", "app"],
    "logout-other-user": ["admin"],
    "manage-assets": ["admin"],
    "manage-emoji": ["admin"],
    "manage-user-status": ["admin"],
    "manage-outgoing-integrations": ["admin"],
    "manage-incoming-integrations": ["admin"],
    "manage-own-outgoing-integrations": ["admin"],
    "manage-own-incoming-integrations": ["admin"],
    "manage-oauth-apps": ["admin"],
    "manage-selected-settings": ["admin"],
    "mention-all": ["admin", "owner", "moderator", "user", "federated-external"],
    "mention-here": ["admin", "owner", "moderator", "user", "federated-external"],
    "mute-user": ["admin", "owner", "moderator"],
    "remove-user": ["admin", "owner", "moderator"],
    "run-import": ["admin"],
    "run-migration": ["admin"],
    "set-moderator": ["admin", "owner"],
    "set-owner": ["admin", "owner"],
    "send-many-messages": ["admin", "bot", "app"],
    "set-leader": ["admin", "owner"],
    "start-discussion": ["admin", "user", "federated-external", "guest", "app"],
    "start-discussion-other-user": ["admin", "user", "federated-external", "owner", "app"],
    "unarchive-room": ["admin"],
    "view-c-room": ["admin", "user", "federated-external", "bot", "app", "anonymous"],
    "user-generate-access-token": ["admin"],
    "view-d-room": ["admin", "user", "federated-external", "bot", "app", "guest"],
    "view-full-other-user-info": ["admin"],
    "view-joined-room": ["guest", "bot", "app", "anonymous"],
    "view-join-code": ["admin"],
    "view-logs": ["admin"],
    "view-other-user-channels": ["admin"],
    "view-p-room": ["admin", "user", "federated-external", "anonymous", "guest"],
    "view-privileged-setting": ["admin"],
    "view-room-administration": ["admin"],
    "view-statistics": ["admin"],
    "view-user-administration": ["admin"],
    "preview-c-room": ["admin", "user", "federated-external", "anonymous"],
    "view-outside-room": ["admin", "owner", "moderator", "user", "federated-external"],
    "view-broadcast-member-list": ["admin", "owner", "moderator"],
    "create-invite-links": ["admin", "owner", "moderator"],
    "message-impersonate": ["bot", "app"],
    "create-team": ["admin", "user"],
    "delete-team": ["admin", "owner"],
    "edit-team": ["admin", "owner"],
    "add-team-member": ["admin", "owner", "moderator"],
    "view-all-teams": ["admin"],
    "post-readonly": ["admin", "owner", "moderator"],
    "set-readonly": ["admin", "owner"],
    "set-react-when-readonly": ["admin", "owner"],
    "pin-message": ["owner", "moderator", "admin"],
    "mobile-upload-file": ["user", "federated-external", "admin"],
    "add-all-to-room": ["admin"],
    "get-server-info": ["admin"],
    "view-moderation-console": ["admin"],
    "manage-moderation-actions": ["admin"],
    "bypass-time-limit-edit-and-delete": ["bot", "app"],
}


def seed(state: SandboxState) -> None:
    """Add every default permission that is missing (existing role lists are kept)."""
    for permission_id, roles in DEFAULT_PERMISSIONS.items():
        state.permissions.setdefault(permission_id, list(roles))


def user_roles(state: SandboxState, user_id: str | None, room_id: str | None = None) -> set[str]:
    """The user's global roles, plus their roles in `room_id` when given."""
    if not user_id:
        return set()
    user = state.users.get(user_id)
    if user is None:
        return set()
    roles = set(user.get("roles") or [])
    if room_id is not None:
        subscription = state.subscription(room_id, user_id)
        if subscription is not None:
            roles.update(subscription.get("roles") or [])
    return roles


def has_permission(
    state: SandboxState, user_id: str | None, permission: str, room_id: str | None = None
) -> bool:
    """`hasPermissionAsync(uid, permission, rid?)`: one of the user's roles holds it."""
    allowed = state.permissions.get(permission) or []
    return bool(user_roles(state, user_id, room_id).intersection(allowed))


def has_all(
    state: SandboxState,
    user_id: str | None,
    permissions: Iterable[str],
    room_id: str | None = None,
) -> bool:
    """`hasAllPermissionAsync`: every permission is held."""
    return all(has_permission(state, user_id, perm, room_id) for perm in permissions)


def has_any(
    state: SandboxState,
    user_id: str | None,
    permissions: Iterable[str],
    room_id: str | None = None,
) -> bool:
    """`hasAtLeastOnePermissionAsync`."""
    return any(has_permission(state, user_id, perm, room_id) for perm in permissions)


def has_role(state: SandboxState, user_id: str | None, role: str) -> bool:
    """The user holds `role` globally."""
    return role in user_roles(state, user_id)


def known_roles(state: SandboxState) -> set[str]:
    """Role ids that exist (the defaults plus any a permission already names)."""
    roles = set(DEFAULT_ROLES)
    for holders in state.permissions.values():
        roles.update(holders)
    return roles
