"""A valid instance of a response schema, chosen deterministically.

Handles both dialects the API takes: ``responseSchema`` (the OpenAPI subset: uppercase
types, ``nullable``, ``anyOf``, snake_case keys when the SDK built it) and
``responseJsonSchema`` (JSON Schema: type lists, ``$ref``/``$defs``, ``const``, ``oneOf``,
``allOf``, exclusive bounds)."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from flashfirst.emulator.wire.codec import get

_WORDS = ("alpha", "brisk", "cedar", "delta", "ember", "fjord", "glade", "harbor", "iris",
          "juniper", "kestrel", "lumen", "meadow", "nectar", "onyx", "prism", "quartz",
          "raven", "sierra", "tundra", "umber", "velvet", "willow", "xenon", "yarrow", "zephyr")
_MAX_DEPTH = 8


def schema_instance(schema: dict[str, Any], rng: random.Random) -> Any:
    return _Builder(schema, rng).build(schema, "value", 0)


class _Builder:
    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def build(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            return self._word(name)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        enum = get(schema, "enum")
        if enum:
            return self.rng.choice(enum)
        for key in ("anyOf", "oneOf"):
            options = get(schema, key)
            if options:
                concrete = [o for o in options if self._type(self._resolve(o)) != "null"]
                return self.build(self.rng.choice(concrete or options), name, depth + 1)
        all_of = get(schema, "allOf")
        if all_of:
            merged: dict[str, Any] = {}
            for part in all_of:
                merged = _merge(merged, self._resolve(part))
            rest = {k: v for k, v in schema.items() if k not in ("allOf", "all_of")}
            return self.build(_merge(merged, rest), name, depth + 1)
        kind = self._type(schema)
        if depth > _MAX_DEPTH and kind in ("object", "array"):
            return {} if kind == "object" else []
        if kind == "null":
            return None
        builders: dict[str, Callable[[dict[str, Any], str, int], Any]] = {
            "object": self._object, "array": self._array, "string": self._string,
            "integer": self._integer, "number": self._number, "boolean": self._boolean}
        builder = builders.get(kind, self._string)
        return builder(schema, name, depth)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target: Any = self.root
            for part in ref.lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        return schema

    def _type(self, schema: dict[str, Any]) -> str:
        kind = get(schema, "type")
        if isinstance(kind, list):
            non_null = [k for k in kind if str(k).lower() != "null"]
            kind = non_null[0] if non_null else "null"
        if kind is None:
            if get(schema, "properties") is not None:
                return "object"
            if get(schema, "items") is not None or get(schema, "prefixItems") is not None:
                return "array"
            return "string"
        return str(kind).lower().removeprefix("type_")

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = get(schema, "properties") or {}
        order = get(schema, "propertyOrdering") or list(properties)
        order += [p for p in properties if p not in order]
        return {prop: self.build(properties[prop], prop, depth + 1)
                for prop in order if prop in properties}

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = int(get(schema, "minItems") or 0)
        high = get(schema, "maxItems")
        high = int(high) if high is not None else max(low, 3)
        count = self.rng.randint(max(low, min(1, high)), max(low, min(high, low + 3)))
        prefix = get(schema, "prefixItems") or []
        items = get(schema, "items") or {}
        singular = name[:-1] if name.endswith("s") else name
        return [self.build(prefix[i] if i < len(prefix) else items, singular, depth + 1)
                for i in range(count)]

    def _string(self, schema: dict[str, Any], name: str, depth: int) -> str:
        fmt = str(get(schema, "format") or "").lower()
        base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            minutes=self.rng.randrange(525_600))
        formatted = {
            "date-time": base.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date": base.strftime("%Y-%m-%d"),
            "time": base.strftime("%H:%M:%S"),
            "email": f"{self.rng.choice(_WORDS)}@example.com",
            "uri": f"https://example.com/{self.rng.choice(_WORDS)}",
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
        }.get(fmt)
        text = formatted or self._word(name)
        low = int(get(schema, "minLength") or 0)
        high = get(schema, "maxLength")
        while len(text) < low:
            text += " " + self.rng.choice(_WORDS)
        if high is not None:
            text = text[: int(high)]
        return text

    def _word(self, name: str) -> str:
        return f"{name} {self.rng.choice(_WORDS)}"

    def _bounds(self, schema: dict[str, Any], step: float) -> tuple[float, float]:
        low, high = get(schema, "minimum"), get(schema, "maximum")
        ex_low, ex_high = get(schema, "exclusiveMinimum"), get(schema, "exclusiveMaximum")
        if isinstance(ex_low, int | float) and not isinstance(ex_low, bool):
            low = ex_low + step if low is None else max(low, ex_low + step)
        if isinstance(ex_high, int | float) and not isinstance(ex_high, bool):
            high = ex_high - step if high is None else min(high, ex_high - step)
        if ex_low is True and low is not None:
            low += step
        if ex_high is True and high is not None:
            high -= step
        if low is None and high is None:
            return 0.0, 100.0
        if low is None:
            return float(high) - 100.0, float(high)
        if high is None:
            return float(low), float(low) + 100.0
        return float(low), float(high)

    def _integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        low, high = self._bounds(schema, 1)
        low_i, high_i = math.ceil(low), math.floor(high)
        return self.rng.randint(low_i, max(low_i, high_i))

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float:
        low, high = self._bounds(schema, 1e-6)
        if high <= low:
            return low
        value = self.rng.uniform(low, high)
        rounded = round(value, 4)
        return rounded if low <= rounded <= high else value

    def _boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.5


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    for key in ("properties",):
        if key in a and key in b:
            merged[key] = {**a[key], **b[key]}
    if "required" in a and "required" in b:
        merged["required"] = list(dict.fromkeys(a["required"] + b["required"]))
    return merged
