"""What a REST list route reads from its query string: pagination, sort, fields and query.

After Rocket.Chat 7.x's apps/meteor/app/api/server/helpers/getPaginationItems.ts and
parseJsonQuery.ts (with lib/cleanQuery.ts and lib/isValidQuery.ts), and the Mongo semantics
the routes hand these to (`find(query, {sort, skip, limit, projection})`):

* `pagination`: offset and count with API_Default_Count / API_Upper_Count_Limit.
* `parse_json_query`: `sort` (1/-1 only), `fields` (0/1 only, the always-excluded fields
  merged in; on users.* routes also the private user fields) and `query` (EJSON; top-level
  operators other than $or/$and/$regex dropped, as `clean` does; fields nobody may query
  dropped). Still accepted in 7.x, where the deprecation only adds a warning.
* `select`: filter, sort, skip/limit and project a list of documents, as Mongo would. Matching
  is mongoquery's; `$regex` with `$options` and regexes against arrays are handled here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mongoquery import Query, QueryError

from sandbox.errors import MeteorError
from sandbox.state import SandboxState, clone, ejson_loads

# API.v1.defaultFieldsToExclude (api.ts): never sent, whatever `fields` asks for.
DEFAULT_FIELDS_TO_EXCLUDE = {"joinCode": 0, "members": 0, "importIds": 0, "e2e": 0}
# API.v1.limitedUserFieldsToExclude and …IfIsPrivilegedUser: users.* routes.
LIMITED_USER_FIELDS_TO_EXCLUDE = {
    "avatarOrigin": 0,
    "emails": 0,
    "phone": 0,
    "statusConnection": 0,
    "createdAt": 0,
    "lastLogin": 0,
    "services": 0,
    "requirePasswordChange": 0,
    "requirePasswordChangeReason": 0,
    "roles": 0,
    "statusDefault": 0,
    "_updatedAt": 0,
    "settings": 0,
    "inactiveReason": 0,
}
PRIVILEGED_USER_FIELDS_TO_EXCLUDE = {"services": 0}
_ALLOWED_TOP_OPERATORS = ("$or", "$and", "$regex")  # pathAllowConf.def


def without_excluded(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as `projection: API.v1.defaultFieldsToExclude` returns it."""
    return {key: value for key, value in doc.items() if key not in DEFAULT_FIELDS_TO_EXCLUDE}


def _setting_or(state: SandboxState, setting_id: str, fallback: int) -> int:
    try:
        value = int(state.settings.get(setting_id) or 0)
    except (TypeError, ValueError):
        value = 0
    return value if value > 0 else fallback


def parse_int(value: Any) -> int:
    """JavaScript's parseInt(String(value)) for what query strings carry (NaN → 0)."""
    match = re.match(r"\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


def pagination(state: SandboxState, params: dict[str, Any]) -> tuple[int, int]:
    """getPaginationItems: (offset, count); count 0 means no limit when infinite is allowed."""
    upper = _setting_or(state, "API_Upper_Count_Limit", 100)
    default = _setting_or(state, "API_Default_Count", 50)
    offset = parse_int(params["offset"]) if params.get("offset") else 0
    count = parse_int(params["count"] or 0) if params.get("count") is not None else default
    count = min(count, upper)
    if count == 0 and not state.settings.get("API_Allow_Infinite_Count", True):
        count = default
    return offset, count


@dataclass(frozen=True)
class JsonQuery:
    """What parseJsonQuery returns: `sort` may be None (the route's default applies)."""

    sort: dict[str, int] | None
    fields: dict[str, int]
    query: dict[str, Any] = field(default_factory=dict)


def parse_json_query(
    state: SandboxState, params: dict[str, Any], *, users_route: bool, privileged: bool
) -> JsonQuery:
    """parseJsonQuery; `privileged` = the caller has view-full-other-user-info."""
    sort = _parse_sort(params.get("sort")) if params.get("sort") else None
    hidden = dict(DEFAULT_FIELDS_TO_EXCLUDE)
    if users_route:
        hidden.update(
            PRIVILEGED_USER_FIELDS_TO_EXCLUDE if privileged else LIMITED_USER_FIELDS_TO_EXCLUDE
        )
    fields: dict[str, int] = {}
    if params.get("fields"):
        chosen = _parse_object(params["fields"], "error-invalid-fields", "fields")
        if any(value not in (0, 1) or isinstance(value, bool) for value in chosen.values()):
            raise _invalid("error-invalid-fields", "fields", params["fields"])
        fields = {k: v for k, v in chosen.items() if k.split(".")[0] not in hidden}
    fields.update(hidden)
    query: dict[str, Any] = {}
    if params.get("query"):
        query = _clean(_parse_object(params["query"], "error-invalid-query", "query"))
        query = {k: v for k, v in query.items() if k.split(".")[0] not in hidden}
    return JsonQuery(sort, fields, query)


def _invalid(error: str, name: str, raw: Any) -> MeteorError:
    return MeteorError(
        error,
        f'Invalid {name} parameter provided: "{raw}"',
        {"helperMethod": "parseJsonQuery"},
    )


def _parse_object(raw: Any, error: str, name: str) -> dict[str, Any]:
    """JSON.parse (for `query`, ejson.parse: `{"$date": ms}` becomes a date)."""
    try:
        parsed = ejson_loads(str(raw))
    except ValueError:
        raise _invalid(error, name, raw) from None
    if not isinstance(parsed, dict):
        raise _invalid(error, name, raw)
    return parsed


def _parse_sort(raw: Any) -> dict[str, int]:
    sort = _parse_object(raw, "error-invalid-sort", "sort")
    if any(value not in (1, -1) or isinstance(value, bool) for value in sort.values()):
        raise _invalid("error-invalid-sort", "sort", raw)
    return sort


def _clean(query: dict[str, Any]) -> dict[str, Any]:
    """cleanQuery.ts `clean`: drops top-level operators outside the allow list (its nested
    pass works on a copy, so deeper operators survive, as upstream)."""
    return {
        key: value
        for key, value in query.items()
        if key not in ("constructor", "__proto__", "prototype")
        and (not key.startswith("$") or key in _ALLOWED_TOP_OPERATORS)
    }


def query_errors(
    query: dict[str, Any], attributes: list[str], operations: Iterable[str], parent: str = ""
) -> list[str]:
    """isValidQuery: the first problem ("Invalid attribute: x", "Invalid operation: $y")."""
    allowed_operations = list(operations)
    for key, value in query.items():
        path = f"{parent}.{key}" if parent else key
        if not parent and key.startswith("$"):
            if key not in allowed_operations:
                return [f"Invalid operation: {key}"]
            if not isinstance(value, list):
                return [f"Invalid parameter for operation: {key} : {value}"]
            for item in value:
                found = query_errors(item, attributes, allowed_operations)
                if found:
                    return found
            continue
        if not any(_attribute_allows(allowed, path) for allowed in attributes):
            return [f"Invalid attribute: {path}"]
        if isinstance(value, dict):
            found = query_errors(value, attributes, allowed_operations, path)
            if found:
                return found
    return []


def _attribute_allows(allowed: str, path: str) -> bool:
    if allowed.endswith(".*"):
        return path.startswith(allowed[:-2])
    if allowed.endswith("*"):
        return True
    return path == allowed


# -- selecting documents ------------------------------------------------------------------------


class _MongoQuery(Query):
    """mongoquery with Mongo's `$regex` + `$options`, and regexes that match array elements."""

    def _regex(self, condition: Any, entry: Any) -> bool:
        if isinstance(entry, list):
            return any(self._regex(condition, item) for item in entry)
        return bool(super()._regex(condition, entry))

    @staticmethod
    def _options(condition: Any, entry: Any) -> bool:
        return True  # folded into the compiled $regex by _compile_regexes


def _compile_regexes(query: Any) -> Any:
    """`{$regex: p, $options: 'i'}` → `{$regex: re.compile(p, re.I)}`, all the way down."""
    if isinstance(query, list):
        return [_compile_regexes(item) for item in query]
    if not isinstance(query, dict):
        return query
    compiled = {key: _compile_regexes(value) for key, value in query.items()}
    if isinstance(compiled.get("$regex"), str):
        flags = 0
        for option in str(compiled.pop("$options", "")):
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(
                option, 0
            )
        try:
            compiled["$regex"] = re.compile(compiled["$regex"], flags)
        except re.error:
            raise MeteorError("error-invalid-query", "Invalid regular expression") from None
    return compiled


def matching(documents: Iterable[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The documents the Mongo query selects."""
    if not query:
        return list(documents)
    matcher = _MongoQuery(_compile_regexes(query))
    found = []
    for doc in documents:
        try:
            if matcher.match(doc):
                found.append(doc)
        except TypeError:  # comparing across types: Mongo simply does not match
            continue
        except (QueryError, NotImplementedError):  # an operator Mongo would refuse or not know
            raise MeteorError("error-invalid-query", f"Invalid query: {query}") from None
    return found


_TYPE_ORDER = {type(None): 0, int: 1, float: 1, str: 2, dict: 3, list: 4, bool: 5, datetime: 6}


def _value_at(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def _sort_key(value: Any) -> tuple[int, Any]:
    rank = _TYPE_ORDER.get(type(value), 3)
    if isinstance(value, (dict, list)):
        return rank, repr(value)
    return rank, value if value is not None else 0


def sorted_documents(docs: list[dict[str, Any]], sort: dict[str, int]) -> list[dict[str, Any]]:
    """Mongo's sort: keys in order, missing values first ascending, types in BSON order."""
    ordered = list(docs)
    for path, direction in reversed(list(sort.items())):
        ordered.sort(key=lambda doc: _sort_key(_value_at(doc, path)), reverse=direction < 0)
    return ordered


def projected(doc: dict[str, Any], fields: dict[str, int]) -> dict[str, Any]:
    """A Mongo projection. Inclusion wins when any field is 1: the excluded defaults merged in
    by parseJsonQuery are then left out anyway (the sandbox's choice where Mongo would refuse
    to mix the two)."""
    included = [name for name, wanted in fields.items() if wanted and name != "_id"]
    if included:
        shown: dict[str, Any] = {}
        if fields.get("_id", 1) and "_id" in doc:
            shown["_id"] = doc["_id"]
        for name in included:
            if name.split(".")[0] in DEFAULT_FIELDS_TO_EXCLUDE:
                continue
            _copy_path(doc, shown, name.split("."))
        return shown
    result = clone(doc)
    for name, wanted in fields.items():
        if not wanted:
            _drop_path(result, name.split("."))
    return result


def _copy_path(source: Any, target: dict[str, Any], parts: list[str]) -> None:
    if not isinstance(source, dict) or parts[0] not in source:
        return
    if len(parts) == 1:
        target[parts[0]] = clone(source[parts[0]])
        return
    inner = target.setdefault(parts[0], {})
    if isinstance(inner, dict):
        _copy_path(source[parts[0]], inner, parts[1:])


def _drop_path(doc: Any, parts: list[str]) -> None:
    if not isinstance(doc, dict):
        return
    if len(parts) == 1:
        doc.pop(parts[0], None)
    elif parts[0] in doc:
        _drop_path(doc[parts[0]], parts[1:])


def select(
    documents: Iterable[dict[str, Any]],
    *,
    query: dict[str, Any] | None = None,
    sort: dict[str, int] | None = None,
    offset: int = 0,
    count: int = 0,
    fields: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """`findPaginated(query, {sort, skip, limit, projection})`: (the page, total matched)."""
    found = matching(documents, query or {})
    if sort:
        found = sorted_documents(found, sort)
    total = len(found)
    page = found[offset : offset + count] if count > 0 else found[offset:]
    return [projected(doc, fields) for doc in page] if fields else [clone(d) for d in page], total
