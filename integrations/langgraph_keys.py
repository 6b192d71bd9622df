"""How LangGraph's namespaces, keys and values sit in hyperloom: names, turn ids, indexed text, filters, matching.

A namespace tuple is one hyperloom namespace: `prefix:` + its labels joined by `.` (LangGraph labels never
contain a period), each label spelled in hyperloom's namespace alphabet — letters, digits, `_`, `:` and `-`
stand for themselves, any other character is `@` and the hex of its UTF-8 bytes (`@40` is `@` itself). The
spelling is one-to-one, so two tuples never share a namespace, and each tuple is sealed from every other
as any hyperloom namespace is.

Inside it, an item is one session whose id is the key, holding two turns:
- `<key>:v`, the value as JSON (role `assistant`: kept in the log, never indexed or quoted as evidence);
- `<key>:t`, the text hybrid search indexes — the strings at the `index=` paths, or every string in the value,
  one per line (absent when there is none, or `index=False`).
Each turn quotes the other, so forgetting either one, by any path (`hyperloom forget --entity` included),
forgets both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from langgraph.store.base import InvalidNamespaceError, MatchCondition, get_text_at_path, tokenize_path

from hyperloom.memory.log import NAMESPACE

VALUE, TEXT = ":v", ":t"
_PLAIN = re.compile(r"[A-Za-z0-9_:-]")


def hyperloom_name(prefix: str, namespace: tuple[str, ...]) -> str:
    name = f"{prefix}:" + ".".join(_spell(label) for label in namespace)
    if not NAMESPACE.fullmatch(name):
        raise InvalidNamespaceError(f"Namespace {namespace} spells {len(name)} characters as a hyperloom namespace (at most 128); use shorter labels.")
    return name


def langgraph_namespace(prefix: str, name: str) -> tuple[str, ...] | None:
    """The tuple a hyperloom namespace stands for, or None if it is not one of this store's."""
    if not name.startswith(f"{prefix}:"):
        return None
    return tuple(_unspell(label) for label in name[len(prefix) + 1 :].split("."))


def _spell(label: str) -> str:
    return "".join(c if _PLAIN.fullmatch(c) else "".join(f"@{b:02x}" for b in c.encode()) for c in label)


def _unspell(label: str) -> str:
    return unquote(label.replace("@", "%"), errors="strict")  # a spelled label holds no '%' of its own


def indexed_text(value: dict[str, Any], paths: list[str] | None) -> str:
    """What search finds the item by: the text at `paths` (LangGraph's path syntax), or every string in it."""
    if paths is None or paths == ["$"]:
        texts = list(_strings(value))
    else:
        texts = [text for path in paths for text in get_text_at_path(value, tokenize_path(path))]
    return "\n".join(t.strip() for t in texts if t.strip())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def loads(text: str) -> dict[str, Any]:
    return json.loads(text)


def matches(filter: dict[str, Any] | None, value: dict[str, Any]) -> bool:
    """LangGraph's filter: exact values (nested dicts and lists compared whole) or `$eq $ne $gt $gte $lt $lte`."""
    return all(_compare(value.get(k), f) for k, f in (filter or {}).items())


def _compare(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(actual, op, operand) for op, operand in wanted.items())
        return isinstance(actual, dict) and all(_compare(actual.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return isinstance(actual, (list, tuple)) and len(actual) == len(wanted) and all(_compare(a, w) for a, w in zip(actual, wanted))
    return actual == wanted


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op in ("$eq", "$ne"):
        return (actual == operand) == (op == "$eq")
    compare = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__, "$lte": float.__le__}.get(op)
    if compare is None:
        raise ValueError(f"Unsupported filter operator {op!r}; use $eq, $ne, $gt, $gte, $lt or $lte.")
    return compare(float(actual), float(operand))


def namespace_matches(conditions: tuple[MatchCondition, ...] | None, namespace: tuple[str, ...]) -> bool:
    """Prefix and suffix conditions, `*` matching any one label, as `ListNamespacesOp` defines them."""
    for condition in conditions or ():
        path = condition.path
        if len(namespace) < len(path):
            return False
        part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
        if any(p != "*" and p != n for p, n in zip(path, part)):
            return False
    return True
