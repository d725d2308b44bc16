"""The one place that turns errors into sentences for people.

Every failure reaches a person through one of these functions, whoever met it: a command (the
dispatcher, after the command's own handler had its chance), a conversation step, a rule, a
timed revert. So a person never sees a stack trace or a raw server error id, and the same
failure reads the same everywhere. The functions only know the error tree (bot.core.errors);
whoever calls them says what the sentence is about.
"""

from __future__ import annotations

import re
from typing import Final

from bot.core.errors import (
    AuthError,
    DatabaseBusy,
    RateLimited,
    ServerError,
    TwoFactorInvalid,
    TwoFactorRequired,
    UserError,
)

_CUSTOM_FIELD_ERRORS: Final = (
    (re.compile(r"Field (\S+) is required"), "the field {0} is required and empty."),
    (re.compile(r"Value for field (\S+) is invalid"), "the value of the field {0} is not valid."),
    (
        re.compile(r"Max length of field (\S+) (\d+)"),
        "the field {0} may have at most {1} characters.",
    ),
    (
        re.compile(r"Min length of field (\S+) (\d+)"),
        "the field {0} needs at least {1} characters.",
    ),
)


def failure(error: BaseException, *, name: str, prefix: str = "/") -> str:
    """The answer to a command `name` ("/nick") that failed with `error` (any exception)."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, DatabaseBusy):
        return (
            "My database is busy right now (another program holds it), so I could not run "
            f"{name}, and nothing was changed. Please try again in a minute."
        )
    if isinstance(error, AuthError):
        return (
            "Rocket.Chat rejected your personal access token, so I could not do that. "
            f"Create a new token and send it to me in a DM with {prefix}token set <token>."
        )
    if isinstance(error, RateLimited):
        wait = max(1, round(error.retry_after))
        return f"Rocket.Chat asks me to slow down. Please try {name} again in {wait} seconds."
    if isinstance(error, TwoFactorRequired | TwoFactorInvalid):
        return (
            "Rocket.Chat wants a two-factor code for this, which I can't provide. Create a "
            "personal access token with “Ignore Two Factor Authentication” ticked and send it "
            f"to me with {prefix}token set <token>."
        )
    if isinstance(error, ServerError):
        if error.status >= 500:
            return (
                f"Rocket.Chat had a problem (HTTP {error.status}) and could not run {name}. "
                "Please try again in a moment."
            )
        return f"Rocket.Chat refused {name}. Please check what you wrote and try again."
    return f"Sorry, something went wrong on my side while running {name}. It has been logged."


def reason(error: BaseException) -> str:
    """Why something done for a person failed, to follow "…: " in a sentence about it."""
    return str(error) if isinstance(error, UserError) else "something went wrong on my side."


def change_refused(error: ServerError, label: str) -> str:
    """Why Rocket.Chat did not make a change of `label` ("nickname"), as users.updateOwnBasicInfo
    answered; every sentence says that nothing was changed, or what to do."""
    code = error.error_type or ""
    text = str(error)
    if isinstance(error, RateLimited) or code == "error-too-many-requests":
        wait = max(1, round(getattr(error, "retry_after", 60)))
        return (
            f"Rocket.Chat says you are changing your {label} too often. Please try again in "
            f"{wait} seconds."
        )
    if isinstance(error, TwoFactorRequired):
        return (
            f"Rocket.Chat wants a two-factor code to change your {label}, which I can't give it. "
            "Nothing was changed."
        )
    if code in ("error-not-allowed", "error-action-not-allowed"):
        return (
            f"Rocket.Chat does not allow changing your {label} on this workspace (an admin has "
            "turned it off)."
        )
    fixed = _FIXED_SENTENCES.get(code)
    if fixed is not None:
        return fixed
    if code == "error-could-not-save-identity":
        return (
            f"Rocket.Chat could not save that {label}. It may be empty, or not allowed on this "
            "workspace; please try another one."
        )
    if "Name contains invalid characters" in text:
        return (
            "Rocket.Chat does not accept display names with the characters < > \\ or /. Please "
            "choose a name without them."
        )
    if code == "error-user-registration-custom-field":
        for pattern, sentence in _CUSTOM_FIELD_ERRORS:
            if match := pattern.search(text):
                cause = sentence.format(*match.groups())
                return f"Rocket.Chat refused the change: {cause} Nothing was changed."
        return f"Rocket.Chat refused the value for your {label}. Nothing was changed."
    if code == "invalid-params":
        return (
            f"Rocket.Chat did not understand the request to change your {label}. This server may "
            "be too old for it (bio and presence need Rocket.Chat 6.4 or newer)."
        )
    if error.status >= 500 or error.status == 0:
        return (
            f"Rocket.Chat could not be reached or had a problem, so your {label} was not "
            "changed. Please try again in a moment."
        )
    return (
        f"Rocket.Chat refused to change your {label}. Nothing was changed; please check the "
        "value, or ask an admin if it keeps happening."
    )


def partly_changed(done: str, error: ServerError, label: str) -> str:
    """A change sent in two requests stopped half-way: `done` ("bio and nickname") changed,
    then Rocket.Chat did not change the `label` ("status") with `error`."""
    code = error.error_type or ""
    if isinstance(error, RateLimited) or code == "error-too-many-requests":
        wait = max(1, round(getattr(error, "retry_after", 60)))
        why = (
            f"Rocket.Chat says you are changing it too often. Please try again in {wait} seconds."
        )
    elif code in ("error-not-allowed", "error-action-not-allowed"):
        why = "Rocket.Chat does not allow changing it on this workspace (an admin turned it off)."
    elif code in _FIXED_SENTENCES:
        why = _FIXED_SENTENCES[code]
    elif error.status >= 500 or error.status == 0:
        why = "Rocket.Chat could not be reached or had a problem. Please try again in a moment."
    else:
        why = "Rocket.Chat refused it. Please check the value."
    return f"Your {done} changed, but your {label} did not: {why}"


def in_a_call(presence: str, text: str) -> str:
    """Rocket.Chat 8.6+ shows a call's status while it lasts; a new one would only wait."""
    shown = f"{presence}: {text}" if text else presence
    return (
        f"Rocket.Chat is showing your call's status ({shown}) and keeps it until the call "
        "ends, so I did not change your status. Please set it again once the call is over."
    )


_FIXED_SENTENCES: Final = {
    "error-bio-size-exceeded": (
        "Rocket.Chat says your bio is too long: it allows at most 260 characters."
    ),
    "error-nickname-size-exceeded": (
        "Rocket.Chat says your nickname is too long: it allows at most 120 characters."
    ),
    "error-status-not-allowed": (
        "This workspace does not allow the invisible (offline) status. Choose online, away or "
        "busy instead."
    ),
    "error-invalid-customfield-json": (
        "This workspace's custom field settings are broken, so Rocket.Chat can't save custom "
        "fields right now. Please tell an admin."
    ),
}


def conversation_stopped(label: str, *, prefix: str, restart_hint: str) -> str:
    """A conversation step failed unexpectedly (a bug): the change stops, the person checks."""
    return (
        f"Sorry, something went wrong on my side, so I stopped your {label}. Check with "
        f"`{prefix}profile` what it looks like now, then {restart_hint} to try again."
    )


def rule_failed(rule: str, error: BaseException, *, prefix: str) -> str:
    """A rule gave up changing someone's profile."""
    return (
        f"The rule “{rule}” could not change your profile: {reason(error)}\n"
        f"(`{prefix}rules off {rule}` stops it acting for you.)"
    )


def revert_failed(group: str, values: str, error: BaseException) -> str:
    """A temporary change could not be put back when it ended."""
    why = str(error) if isinstance(error, UserError) else "Rocket.Chat kept failing."
    return (
        f"I could not put back your {group} ({values}) when it expired: {why} Please set it "
        "yourself."
    )
