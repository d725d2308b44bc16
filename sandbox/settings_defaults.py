"""Rocket.Chat's defaults for the settings the sandbox serves (server/settings/*.ts, 7.x).

Each setting keeps its type (for OVERWRITE_SETTING_* conversion and POST settings/:_id) and
whether Rocket.Chat marks it `public` (served by `settings.public` without auth) or `hidden`
(never served by `settings/:_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SettingDefinition:
    """One setting as `settingsRegistry.add(id, value, {type, public, hidden})` declares it."""

    id: str
    value: Any
    type: str  # boolean | int | string | select | code | multiSelect
    public: bool = False
    hidden: bool = False


def _b(id_: str, value: bool, public: bool = False) -> SettingDefinition:
    return SettingDefinition(id_, value, "boolean", public)


def _i(id_: str, value: int, public: bool = False) -> SettingDefinition:
    return SettingDefinition(id_, value, "int", public)


def _s(id_: str, value: str, public: bool = False, kind: str = "string") -> SettingDefinition:
    return SettingDefinition(id_, value, kind, public)


_PREFERENCES = "Accounts_Default_User_Preferences_"

DEFINITIONS: tuple[SettingDefinition, ...] = (
    # General
    _s("Site_Url", "", public=True),
    _s("Site_Name", "Rocket.Chat", public=True),
    _s("Language", "en", public=True),
    _s("UTF8_User_Names_Validation", "[0-9a-zA-Z-_.]+", public=True),
    _s("UTF8_Channel_Names_Validation", "[0-9a-zA-Z-_.]+", public=True),
    _b("UI_Use_Real_Name", False, public=True),
    # Two-factor authentication (server/settings/accounts.ts)
    _b("Accounts_TwoFactorAuthentication_Enabled", True, public=True),
    _i("Accounts_TwoFactorAuthentication_MaxDelta", 1),
    _b("Accounts_TwoFactorAuthentication_By_TOTP_Enabled", True, public=True),
    _b("Accounts_TwoFactorAuthentication_By_Email_Enabled", True, public=True),
    _b("Accounts_twoFactorAuthentication_email_available_for_OAuth_users", True, public=True),
    _b("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In", True),
    _i("Accounts_TwoFactorAuthentication_By_Email_Code_Expiration", 3600),
    _i("Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts", 5),
    _i("Accounts_TwoFactorAuthentication_RememberFor", 1800),
    _b("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback", True, public=True),
    # Accounts
    _b("Accounts_AllowAnonymousRead", False, public=True),
    _b("Accounts_AllowAnonymousWrite", False, public=True),
    _b("Accounts_AllowDeleteOwnAccount", False, public=True),
    _b("Accounts_AllowUserProfileChange", True, public=True),
    _b("Accounts_AllowUserAvatarChange", True, public=True),
    _b("Accounts_AllowRealNameChange", True, public=True),
    _b("Accounts_AllowUserStatusMessageChange", True, public=True),
    _b("Accounts_AllowUsernameChange", True, public=True),
    _b("Accounts_AllowEmailChange", True, public=True),
    _b("Accounts_AllowPasswordChange", True, public=True),
    _b("Accounts_AllowPasswordChangeForOAuthUsers", True, public=True),
    _b("Accounts_AllowEmailNotifications", True, public=True),
    _b("Accounts_AllowInvisibleStatusOption", True, public=True),
    _i("Accounts_LoginExpiration", 90, public=True),
    _s("Accounts_CustomFieldsToShowInUserInfo", "", public=True),
    # Login attempts (brute-force guard)
    _b("Block_Multiple_Failed_Logins_Enabled", True),
    _b("Block_Multiple_Failed_Logins_By_User", True),
    _i("Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User", 10),
    _i("Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes", 5),
    _b("Block_Multiple_Failed_Logins_By_Ip", True),
    _i("Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip", 50),
    _i("Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes", 5),
    _s("Block_Multiple_Failed_Logins_Ip_Whitelist", ""),
    # Registration
    _b("Accounts_RequireNameForSignUp", True, public=True),
    _b("Accounts_RequirePasswordConfirmation", True, public=True),
    _b("Accounts_EmailVerification", False, public=True),
    _b("Accounts_ManuallyApproveNewUsers", False, public=True),
    _s("Accounts_AllowedDomainsList", "", public=True),
    _s("Accounts_BlockedDomainsList", ""),
    _s("Accounts_BlockedUsernameList", ""),
    SettingDefinition(
        "Accounts_SystemBlockedUsernameList",
        "admin,administrator,system,user",
        "string",
        hidden=True,
    ),
    _b("Accounts_UseDefaultBlockedDomainsList", True),
    _s("Accounts_RegistrationForm", "Public", public=True, kind="select"),
    _s(
        "Accounts_RegistrationForm_LinkReplacementText",
        "New user registration is currently disabled",
        public=True,
    ),
    _s("Accounts_Registration_Users_Default_Roles", "user", public=True),
    _b("Accounts_PasswordReset", True, public=True),
    _s("Accounts_CustomFields", "", public=True, kind="code"),
    _b("Accounts_SetDefaultAvatar", True),
    # Password policy and history
    _b("Accounts_Password_Policy_Enabled", False, public=True),
    _i("Accounts_Password_Policy_MinLength", 7, public=True),
    _i("Accounts_Password_Policy_MaxLength", -1, public=True),
    _b("Accounts_Password_Policy_ForbidRepeatingCharacters", True, public=True),
    _i("Accounts_Password_Policy_ForbidRepeatingCharactersCount", 3, public=True),
    _b("Accounts_Password_Policy_AtLeastOneLowercase", True, public=True),
    _b("Accounts_Password_Policy_AtLeastOneUppercase", True, public=True),
    _b("Accounts_Password_Policy_AtLeastOneNumber", True, public=True),
    _b("Accounts_Password_Policy_AtLeastOneSpecialCharacter", True, public=True),
    _b("Accounts_Password_History_Enabled", False),
    _i("Accounts_Password_History_Amount", 5),
    # Default user preferences (merged into `me` settings.preferences)
    _b(_PREFERENCES + "enableAutoAway", True, public=True),
    _i(_PREFERENCES + "idleTimeLimit", 300, public=True),
    _b(_PREFERENCES + "desktopNotificationRequireInteraction", False, public=True),
    _s(_PREFERENCES + "desktopNotifications", "all", public=True, kind="select"),
    _s(_PREFERENCES + "pushNotifications", "all", public=True, kind="select"),
    _b(_PREFERENCES + "unreadAlert", True, public=True),
    _b(_PREFERENCES + "useEmojis", True, public=True),
    _b(_PREFERENCES + "convertAsciiEmoji", True, public=True),
    _b(_PREFERENCES + "autoImageLoad", True, public=True),
    _b(_PREFERENCES + "saveMobileBandwidth", True, public=True),
    _b(_PREFERENCES + "collapseMediaByDefault", False, public=True),
    _b(_PREFERENCES + "hideUsernames", False, public=True),
    _b(_PREFERENCES + "hideRoles", False, public=True),
    _b(_PREFERENCES + "hideFlexTab", False, public=True),
    _b(_PREFERENCES + "displayAvatars", True, public=True),
    _b(_PREFERENCES + "sidebarGroupByType", True, public=True),
    _s(_PREFERENCES + "themeAppearence", "auto", public=True, kind="select"),
    _s(_PREFERENCES + "sidebarViewMode", "medium", public=True, kind="select"),
    _b(_PREFERENCES + "sidebarDisplayAvatar", True, public=True),
    _b(_PREFERENCES + "sidebarShowUnread", False, public=True),
    _s(_PREFERENCES + "sidebarSortby", "activity", public=True, kind="select"),
    _b(_PREFERENCES + "showThreadsInMainChannel", False, public=True),
    _s(_PREFERENCES + "alsoSendThreadToChannel", "default", public=True, kind="select"),
    _b(_PREFERENCES + "sidebarShowFavorites", True, public=True),
    _s(_PREFERENCES + "sendOnEnter", "normal", public=True, kind="select"),
    _s(_PREFERENCES + "emailNotificationMode", "mentions", public=True, kind="select"),
    _s(_PREFERENCES + "newRoomNotification", "door", public=True, kind="select"),
    _s(_PREFERENCES + "newMessageNotification", "chime", public=True, kind="select"),
    _b(_PREFERENCES + "muteFocusedConversations", True, public=True),
    _i(_PREFERENCES + "notificationsSoundVolume", 100, public=True),
    # Messages
    _b("Message_AllowUnrecognizedSlashCommand", False, public=True),
    _i("Message_MaxAllowedSize", 5000, public=True),
    _b("Message_AllowEditing", True, public=True),
    _i("Message_AllowEditing_BlockEditInMinutes", 0, public=True),
    _b("Message_AllowDeleting", True, public=True),
    _i("Message_AllowDeleting_BlockDeleteInMinutes", 0, public=True),
    _b("Message_ShowDeletedStatus", False, public=True),
    # REST API rate limiter (server/settings/general.ts "API_Rate_Limiter" section)
    _b("API_Enable_Rate_Limiter", True),
    _b("API_Enable_Rate_Limiter_Dev", True),
    _i("API_Enable_Rate_Limiter_Limit_Calls_Default", 10),
    _i("API_Enable_Rate_Limiter_Limit_Time_Default", 60000),
    _i("Rate_Limiter_Limit_RegisterUser", 1),
    _i("API_Default_Count", 50),
    _i("API_Upper_Count_Limit", 100),
    # DDP method rate limiter (app/lib/server/startup/rateLimiter.js)
    _b("DDP_Rate_Limit_IP_Enabled", True),
    _i("DDP_Rate_Limit_IP_Requests_Allowed", 120000),
    _i("DDP_Rate_Limit_IP_Interval_Time", 60000),
    _b("DDP_Rate_Limit_User_Enabled", True),
    _i("DDP_Rate_Limit_User_Requests_Allowed", 1200),
    _i("DDP_Rate_Limit_User_Interval_Time", 60000),
    _b("DDP_Rate_Limit_Connection_Enabled", True),
    _i("DDP_Rate_Limit_Connection_Requests_Allowed", 600),
    _i("DDP_Rate_Limit_Connection_Interval_Time", 60000),
    _b("DDP_Rate_Limit_User_By_Method_Enabled", True),
    _i("DDP_Rate_Limit_User_By_Method_Requests_Allowed", 20),
    _i("DDP_Rate_Limit_User_By_Method_Interval_Time", 10000),
    _b("DDP_Rate_Limit_Connection_By_Method_Enabled", True),
    _i("DDP_Rate_Limit_Connection_By_Method_Requests_Allowed", 10),
    _i("DDP_Rate_Limit_Connection_By_Method_Interval_Time", 10000),
)

BY_ID: dict[str, SettingDefinition] = {definition.id: definition for definition in DEFINITIONS}
PREFERENCES_PREFIX = _PREFERENCES


def default_values() -> dict[str, Any]:
    """Every setting id with Rocket.Chat's default value."""
    return {definition.id: definition.value for definition in DEFINITIONS}


def convert(setting_id: str, raw: str) -> Any:
    """An environment string converted to the setting's type, as OVERWRITE_SETTING_* does.

    Booleans accept "true"/"false" (any case); ints are parsed; unknown ids stay strings.
    Raises ValueError when the text does not fit the type.
    """
    definition = BY_ID.get(setting_id)
    kind = definition.type if definition else "string"
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{setting_id} expects true or false, got {raw!r}")
        return lowered == "true"
    if kind == "int":
        return int(raw.strip())
    return raw
