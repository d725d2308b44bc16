"""DDP's wire format as Meteor's ddp-common and ddp-server read and write it.

`parse_frame` (DDPCommon.parseDDP), EJSON dates coming in (`from_ejson`), the `error` of a result
frame (`error_json`: wrapInternalException), and JavaScript's call arity for method handlers
(`fit_arity`). Frames going out are `sandbox.state.ejson_dumps`.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

from sandbox.errors import MatchError, MeteorError
from sandbox.state import from_ms


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_frame(raw: str) -> Any:
    """DDPCommon.parseDDP: the frame as an object, or None when it is not a JSON object/array."""
    try:
        parsed = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def from_ejson(value: Any) -> Any:
    """EJSON `_adjustTypesFromJSONValue` for dates: `{"$date": ms}` becomes a datetime."""
    if isinstance(value, dict):
        if len(value) == 1 and "$date" in value:
            stamp = value["$date"]
            if (
                isinstance(stamp, (int, float))
                and not isinstance(stamp, bool)
                and math.isfinite(stamp)
            ):
                try:
                    return from_ms(stamp)
                except (OverflowError, OSError, ValueError):
                    return value
            return value
        return {key: from_ejson(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_ejson(item) for item in value]
    return value


def error_json(exc: BaseException) -> dict[str, Any]:
    """wrapInternalException: client-safe errors as they are, everything else a 500."""
    if isinstance(exc, MatchError):
        return exc.ddp_error()
    if isinstance(exc, MeteorError):
        return exc.ddp_error()
    return MeteorError(500, "Internal server error").ddp_error()


def fit_arity(handler: Any, params: list[Any]) -> list[Any]:
    """Call like JavaScript: extra params are dropped, missing ones arrive as None."""
    signature = inspect.signature(handler)
    positional = [
        p
        for p in list(signature.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values()):
        return params
    fitted = params[: len(positional)]
    for param in positional[len(fitted) :]:
        if param.default is param.empty:
            fitted.append(None)
    return fitted
