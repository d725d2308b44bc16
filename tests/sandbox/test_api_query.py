"""The pieces list routes share: getPaginationItems, parseJsonQuery and Mongo-style selection.

Rocket.Chat 7.x: apps/meteor/app/api/server/helpers/getPaginationItems.ts, parseJsonQuery.ts,
lib/cleanQuery.ts and lib/isValidQuery.ts; the selection mirrors what MongoDB does with
`find(query, {sort, skip, limit, projection})`.
"""

from __future__ import annotations

import pytest

from sandbox import api_query
from sandbox.errors import MeteorError
from sandbox.state import SandboxState


def test_pagination_defaults_caps_and_parses_like_parse_int() -> None:
    state = SandboxState()
    state.settings.update({"API_Default_Count": 50, "API_Upper_Count_Limit": 100})
    assert api_query.pagination(state, {}) == (0, 50)
    assert api_query.pagination(state, {"count": "500", "offset": "7"}) == (7, 100)
    assert api_query.pagination(state, {"count": "12abc", "offset": "x"}) == (0, 12)
    state.settings["API_Allow_Infinite_Count"] = False
    assert api_query.pagination(state, {"count": "0"}) == (0, 50)


def test_parse_json_query_hides_fields_and_cleans_top_level_operators() -> None:
    state = SandboxState()
    parsed = api_query.parse_json_query(
        state,
        {"fields": '{"name":1,"joinCode":1}', "query": '{"$where":"x","$or":[{"a":1}],"b":2}'},
        users_route=False,
        privileged=False,
    )
    assert parsed.fields == {"name": 1, **api_query.DEFAULT_FIELDS_TO_EXCLUDE}
    assert parsed.query == {"$or": [{"a": 1}], "b": 2}
    users = api_query.parse_json_query(
        state, {"query": '{"emails.address":"a@b.c"}'}, users_route=True, privileged=False
    )
    assert users.query == {} and users.fields["emails"] == 0


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"sort": '{"name":0}'}, "error-invalid-sort"),
        ({"sort": "name"}, "error-invalid-sort"),
        ({"fields": '{"name":true}'}, "error-invalid-fields"),
        ({"query": "{"}, "error-invalid-query"),
    ],
)
def test_parse_json_query_refuses_malformed_params(params: dict[str, str], error: str) -> None:
    with pytest.raises(MeteorError) as raised:
        api_query.parse_json_query(SandboxState(), params, users_route=False, privileged=False)
    assert raised.value.error == error


def test_is_valid_query_reports_the_first_bad_attribute_or_operation() -> None:
    allowed = ["username", "username.*", "name"]
    assert api_query.query_errors({"$or": [{"username": {"$regex": "a"}}]}, allowed, ["$or"]) == []
    assert api_query.query_errors({"bio": "x"}, allowed, ["$or"]) == ["Invalid attribute: bio"]
    assert api_query.query_errors({"$nor": []}, allowed, ["$or"]) == ["Invalid operation: $nor"]


def test_matching_regex_options_arrays_and_type_mismatches() -> None:
    docs = [
        {"name": "Alpha", "emails": [{"address": "a@x.io"}], "n": 1},
        {"name": "beta", "emails": [], "n": "one"},
    ]
    assert api_query.matching(docs, {"name": {"$regex": "^a", "$options": "i"}}) == [docs[0]]
    assert api_query.matching(docs, {"emails.address": {"$regex": "X.IO", "$options": "i"}}) == [
        docs[0]
    ]
    assert api_query.matching(docs, {"n": {"$gt": 0}}) == [docs[0]]
    with pytest.raises(MeteorError):
        api_query.matching(docs, {"name": {"$where": "1"}})


def test_sort_puts_missing_values_first_and_orders_types() -> None:
    docs = [{"a": "s"}, {"a": 2}, {}, {"a": None}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]
    ordered = api_query.sorted_documents(docs, {"a": 1, "b": -1})
    assert ordered == [{}, {"a": None}, {"a": 1, "b": 2}, {"a": 1, "b": 1}, {"a": 2}, {"a": "s"}]


def test_projection_inclusion_wins_and_exclusion_drops_paths() -> None:
    doc = {"_id": "r", "name": "x", "a": {"b": 1, "c": 2}, "joinCode": "secret"}
    assert api_query.projected(doc, {"a.b": 1, "joinCode": 0}) == {"_id": "r", "a": {"b": 1}}
    assert api_query.projected(doc, {"a.c": 0, "joinCode": 0}) == {
        "_id": "r",
        "name": "x",
        "a": {"b": 1},
    }
    page, total = api_query.select([doc, dict(doc, _id="s")], offset=1, count=5)
    assert [d["_id"] for d in page] == ["s"] and total == 2
