"""The AJV-like validator (reference §1 validateParams) and bad input on the wire."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.endpoints.profile import decode_uri, validate_body
from sandbox.errors import MeteorError
from sandbox.validation import compile_schema, js_string
from tests.sandbox.conftest import World

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def invalid_message(schema_check: Any, body: Any) -> str:
    with pytest.raises(MeteorError) as raised:
        schema_check(body)
    assert raised.value.error == "invalid-params"
    return str(raised.value.reason)


def test_required_comes_before_additional_properties() -> None:
    """§1: AJV reports `required` before `additionalProperties` (first error only)."""
    assert invalid_message(validate_body, {"foo": 1}) == "must have required property 'data'"


def test_coercion_rewrites_values_in_place() -> None:
    """§1: coerceTypes turns numbers/booleans into strings where a string is expected."""
    body = {"data": {"nickname": 1.0, "bio": False, "name": 2.5}}
    validate_body(body)
    assert body["data"] == {"nickname": "1", "bio": "false", "name": "2.5"}


def test_integer_and_boolean_coercion() -> None:
    """§1: strings coerce to numbers/booleans too (AJV coerceTypes)."""
    check = compile_schema(
        {"type": "object", "properties": {"n": {"type": "integer"}, "b": {"type": "boolean"}}}
    )
    body = {"n": "42", "b": "true"}
    check(body)
    assert body == {"n": 42, "b": True}
    assert invalid_message(check, {"n": "4.5"}) == "must be integer"
    assert invalid_message(check, {"b": "yes"}) == "must be boolean"


def test_js_string_matches_javascript() -> None:
    """JavaScript String() for the scalars JSON can carry."""
    assert [js_string(v) for v in (None, True, 3.0, 1e21, "x")] == [
        "null",
        "true",
        "3",
        "1e+21",
        "x",
    ]


def test_decode_uri_keeps_reserved_escapes_and_rejects_malformed() -> None:
    """§4 step 2: decodeURI semantics."""
    assert decode_uri("%3C%C3%A9") == "<é"
    assert decode_uri("a%2Fb") == "a%2Fb"
    for bad in ("%", "%4", "%ZZ", "%C3", "%FF"):
        with pytest.raises(ValueError):
            decode_uri(bad)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_validator_never_crashes(body: Any) -> None:
    """§1: any JSON either validates or fails with invalid-params."""
    try:
        validate_body(body)
    except MeteorError as exc:
        assert exc.error == "invalid-params"


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("users.updateOwnBasicInfo", [1, 2]),
        ("users.updateOwnBasicInfo", {"data": {"bio": ["x"]}}),
        ("users.setStatus", "text"),
        ("users.generatePersonalAccessToken", [None]),
        ("users.create", {"username": None}),
        ("permissions.update", {"permissions": "all"}),
        ("settings/Message_MaxAllowedSize", ["v"]),
        ("login", [1]),
        ("login", {"user": {"username": ["x"]}, "password": {"digest": 5}}),
        ("login", {"resume": {"token": 1}}),
        ("users.2fa.sendEmailCode", {"emailOrUsername": {"a": 1}}),
    ],
)
async def test_bad_input_gets_an_error_not_a_crash(world: World, endpoint: str, body: Any) -> None:
    """Issue: wrong types never crash the server (no 500 except where Rocket.Chat has one)."""
    reply = await world.call("POST", endpoint, auth=world.admin.auth, json=body)
    assert reply.status in (400, 401, 403, 500)
    assert reply.body["success"] is False
    if reply.status == 500:
        assert endpoint == "login"
    assert (await world.call("GET", "me", auth=world.admin.auth)).status == 200
