"""A small AJV for the route schemas: Rocket.Chat's shared instance semantics and messages.

Rocket.Chat compiles its body schemas with `new Ajv({coerceTypes: true})` (draft 2020, first
error only). This module keeps that behaviour for the keywords our schemas use: `type` (with
`nullable`), `enum`, `minLength`, `required`, `additionalProperties: false`, `properties`,
`items`, `uniqueItems`, `anyOf`. Values are coerced in place (number 1 → "1" for a string
field) before the handler sees them. A failure raises Meteor.Error('invalid-params', <AJV
message>), which the REST layer renders as "<message> [invalid-params]".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from sandbox.errors import MeteorError
from sandbox.state import clone

Schema = dict[str, Any]
Validator = Callable[[Any], None]  # raises MeteorError('invalid-params', ...) on bad input
_MISSING = object()


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def js_string(value: Any) -> str:
    """JavaScript's `String(value)` for JSON scalars."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, wanted: str) -> bool:
    actual = _json_type(value)
    if wanted == "number":
        return actual in ("number", "integer")
    return actual == wanted


def _coerce(value: Any, wanted: str) -> Any:
    """AJV's coerceTypes:true conversion of a scalar, or _MISSING when impossible."""
    actual = _json_type(value)
    if actual in ("array", "object"):
        return _MISSING
    if wanted == "string":
        if value is None:
            return ""
        return js_string(value)
    if wanted in ("number", "integer"):
        if value is None:
            return 0
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            return _number_from_text(value, integer=wanted == "integer")
        return _MISSING
    if wanted == "boolean":
        if value is None:
            return False
        if value in ("true", "false"):
            return value == "true"
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        return _MISSING
    if wanted == "null":
        if value in ("", 0, False):
            return None
        return _MISSING
    return _MISSING


def _number_from_text(text: str, *, integer: bool) -> Any:
    """AJV's string → number coercion (`+text`), or _MISSING."""
    if not text.strip():
        return _MISSING
    try:
        number = float(text)
    except ValueError:
        return _MISSING
    if not math.isfinite(number) or (integer and not number.is_integer()):
        return _MISSING
    return int(number) if number.is_integer() else number


class _Validator:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def __call__(self, data: Any) -> None:
        holder = [data]
        try:
            self._validate(self.schema, holder, 0, root=True)
        except _Invalid as exc:
            raise MeteorError("invalid-params", exc.message) from None

    def _validate(self, schema: Schema, parent: Any, key: Any, root: bool = False) -> None:
        value = parent[key]
        if "type" in schema:
            value = self._check_type(schema, parent, key, root)
        if "anyOf" in schema:
            self._any_of(schema["anyOf"], parent, key)
        if "enum" in schema and value not in schema["enum"]:
            raise _Invalid("must be equal to one of the allowed values")
        if isinstance(value, str) and len(value) < schema.get("minLength", 0):
            count = schema["minLength"]
            raise _Invalid(f"must NOT have fewer than {count} character{'s' * (count != 1)}")
        if isinstance(value, list):
            self._array(schema, value)
        if isinstance(value, dict):
            self._object(schema, value)

    def _check_type(self, schema: Schema, parent: Any, key: Any, root: bool) -> Any:
        value = parent[key]
        declared = schema["type"]
        types = list(declared) if isinstance(declared, list) else [declared]
        if schema.get("nullable") and "null" not in types:
            types.append("null")
        if any(_is_type(value, wanted) for wanted in types):
            return value
        if not root:
            for wanted in types:
                coerced = _coerce(value, wanted)
                if coerced is not _MISSING:
                    parent[key] = coerced
                    return coerced
        shown = ",".join(declared) if isinstance(declared, list) else declared
        raise _Invalid(f"must be {shown}")

    def _any_of(self, options: list[Schema], parent: Any, key: Any) -> None:
        messages = []
        for option in options:
            trial = [json.loads(json.dumps(parent[key]))]
            try:
                self._validate(option, trial, 0)
            except _Invalid as exc:
                messages.append(exc.message)
                continue
            parent[key] = trial[0]
            return
        raise _Invalid("\n ".join([*messages, "must match a schema in anyOf"]))

    def _array(self, schema: Schema, value: list[Any]) -> None:
        if "items" in schema:
            for index in range(len(value)):
                self._validate(schema["items"], value, index)
        if schema.get("uniqueItems"):
            seen: list[Any] = []
            for item in value:
                if item in seen:
                    later = len(seen)
                    earlier = seen.index(item)
                    raise _Invalid(
                        f"must NOT have duplicate items (items ## {later} and {earlier} "
                        "are identical)"
                    )
                seen.append(item)

    def _object(self, schema: Schema, value: dict[str, Any]) -> None:
        for name in schema.get("required", []):
            if name not in value:
                raise _Invalid(f"must have required property '{name}'")
        properties: dict[str, Schema] = schema.get("properties", {})
        extra = any(name not in properties for name in value)
        if schema.get("additionalProperties") is False and extra:
            raise _Invalid("must NOT have additional properties")
        for name, subschema in properties.items():
            if name in value:
                self._validate(subschema, value, name)


def compile_schema(schema: Schema) -> Callable[[Any], None]:
    """A validator for the REST pipeline: coerces in place, raises `invalid-params`."""
    return _Validator(schema)


def nullable_string() -> Schema:
    """`{type: 'string', nullable: true}`."""
    return {"type": "string", "nullable": True}


def nullable(kind: str) -> Schema:
    """`{type: <kind>, nullable: true}`."""
    return {"type": kind, "nullable": True}


def closed_object(properties: dict[str, Any], required: list[str]) -> Validator:
    """A validator for an object with these properties only (`additionalProperties: false`)."""
    return compile_schema(
        {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
    )


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
                messages.append(str(exc.reason or ""))
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
