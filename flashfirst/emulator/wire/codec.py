"""Reading the API's JSON as clients really send it: camelCase at the top, often
snake_case inside nested objects (the SDK forwards its own models' field names), base64
of either alphabet, durations like '300s' and RFC 3339 timestamps."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from typing import Any

from flashfirst.emulator.wire import lenient_json
from flashfirst.emulator.wire.errors import invalid_argument

Json = dict[str, Any]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def get(obj: Any, camel: str, default: Any = None) -> Any:
    """A field under its camelCase or snake_case name."""
    if not isinstance(obj, dict):
        return default
    if camel in obj:
        return obj[camel]
    return obj.get(snake(camel), default)


def decode_base64(data: str) -> bytes:
    """Standard or URL-safe alphabet, padded or not (the SDK sends URL-safe)."""
    cleaned = data.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_argument("Invalid value at 'inline_data.data': not valid base64.") from exc


def parse_duration(value: Any, field: str) -> float:
    """'3600s', '1.5s', 3600 or '3600' → seconds."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):  # {"seconds": .., "nanos": ..}
        return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
    text = str(value).strip()
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)s?", text)
    if not match:
        raise invalid_argument(f"Invalid value at '{field}' (type.googleapis.com/"
                               f"google.protobuf.Duration), Field '{field}', Illegal duration "
                               f"format; duration must end with 's'")
    return float(match.group(1))


def parse_timestamp(value: Any, field: str) -> float:
    """RFC 3339 (with 'Z' or an offset) → epoch seconds."""
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_argument(f"Invalid value at '{field}' (type.googleapis.com/"
                               f"google.protobuf.Timestamp), {value!r}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def timestamp(epoch_s: float) -> str:
    """Epoch seconds → RFC 3339 in UTC, microseconds, 'Z' (as the API answers)."""
    stamp = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(*parts: Any) -> str:
    """A stable hash of JSON-able parts: the seed of every deterministic choice."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def thought_signature(*parts: Any) -> str:
    """An opaque, deterministic thought signature (base64 of a digest): Gemini 3+ return one
    with a thinking turn's answer, and clients send it back with that turn."""
    return base64.b64encode(bytes.fromhex(digest("thought-signature", *parts))).decode()


def unit_interval(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    return int(digest(*parts)[:13], 16) / float(16**13)


_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def resource_id(*parts: Any, length: int = 12) -> str:
    """Lowercase letters and digits only: the SDK's file-URI parser accepts nothing else."""
    n = int(digest(*parts), 16)
    chars = []
    for _ in range(length):
        n, r = divmod(n, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "".join(chars)


def read_json(raw: bytes) -> Json:
    if not raw.strip():
        return {}
    try:  # as Google's front end reads it: a trailing comma, a raw newline in a string
        body = lenient_json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise invalid_argument("Invalid JSON payload received. Invalid UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise invalid_argument(f"Invalid JSON payload received. {exc.msg}.") from exc
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected an object.")
    return body


def list_page(query: Any, key: str, items: list[Any], render: Any, default_size: int,
              max_size: int) -> Json:
    """One page of a list answer: ``{key: [...], "nextPageToken": …}`` (no token at the end)."""
    chunk, token = page(items, query, default_size, max_size)
    answer: Json = {key: [render(item) for item in chunk]}
    if token:
        answer["nextPageToken"] = token
    return answer


def page(items: list[Any], query: Any, default_size: int,
         max_size: int) -> tuple[list[Any], str | None]:
    """Offset pagination: the token is the next offset, opaque to clients."""
    try:
        size = int(query.get("pageSize") or query.get("page_size") or default_size)
        start = int(query.get("pageToken") or query.get("page_token") or 0)
    except ValueError as exc:
        raise invalid_argument("Invalid page token or page size.") from exc
    size = max(1, min(size, max_size))
    chunk = items[start:start + size]
    return chunk, (str(start + size) if start + size < len(items) else None)


def request_shape(body: Json) -> dict[str, Any]:
    """What the request log keeps of a generate request: its generation config as sent and
    a digest of what the model reads (spelled either way on the wire)."""
    return {"generation_config": get(body, "generationConfig"), "labels": get(body, "labels"),
            "content_digest": digest(get(body, "contents"), get(body, "systemInstruction"),
                                     get(body, "cachedContent"))}
