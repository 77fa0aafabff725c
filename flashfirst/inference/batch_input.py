"""A batch's requests on the wire: inline when small, else JSONL files of bounded size.

Each request carries its answer key (inline: ``metadata.key``; JSONL: ``key``), so every
response maps back to its items whatever order the job answers in."""

from __future__ import annotations

import json

from google import genai
from google.genai import _common as sdk_common
from google.genai import batches as sdk_batches
from google.genai import types
from pydantic import BaseModel

from flashfirst.errors import ConfigError


class KeyedRequest(BaseModel):
    """One batch line and the key its answer comes back under."""

    key: str
    request: types.InlinedRequest


class BatchInput(BaseModel):
    """One job's worth: inline requests, or the bytes of one JSONL file."""

    part: int
    keys: list[str]
    inline: list[types.InlinedRequest] | None = None
    jsonl: bytes | None = None


def wire_line(client: genai.Client, keyed: KeyedRequest) -> dict:
    """The request as the SDK itself puts it on the wire (its converter places
    ``cachedContent`` and ``systemInstruction`` at request level, where the API wants
    them: python-genai #1313), as one JSONL row. Nested SDK objects (a thinking config)
    become plain values the way the SDK's own request encoding makes them."""
    body = sdk_batches._InlinedRequest_to_mldev(client._api_client, keyed.request)
    request = sdk_common.encode_unserializable_types(sdk_common.convert_to_dict(body["request"]))
    return {"key": keyed.key, "request": request}


def split_input(client: genai.Client, requests: list[KeyedRequest], *, inline_max_bytes: int,
                file_max_bytes: int) -> list[BatchInput]:
    """Inline if the whole batch fits under the inline limit; otherwise JSONL files cut
    before any would pass the file limit. Deterministic for the same requests, so a
    re-attaching run rebuilds the same parts. (The Agent Platform's jobs take neither:
    ``platform_batch`` splits theirs.)"""
    requests = sorted(requests, key=lambda r: r.key)
    lines = [json.dumps(wire_line(client, r), separators=(",", ":")).encode() + b"\n"
             for r in requests]
    if sum(len(line) for line in lines) <= inline_max_bytes:
        return [BatchInput(part=0, keys=[r.key for r in requests],
                           inline=[r.request for r in requests])]
    parts: list[BatchInput] = []
    keys: list[str] = []
    data = bytearray()
    for keyed, line in zip(requests, lines, strict=True):
        if len(line) > file_max_bytes:
            raise ConfigError(f"request {keyed.key[:12]}… is {len(line)} bytes, above "
                              f"FLASHFIRST_INFERENCE__BATCH_FILE_MAX_BYTES ({file_max_bytes})")
        if data and len(data) + len(line) > file_max_bytes:
            parts.append(BatchInput(part=len(parts), keys=keys, jsonl=bytes(data)))
            keys, data = [], bytearray()
        keys.append(keyed.key)
        data += line
    parts.append(BatchInput(part=len(parts), keys=keys, jsonl=bytes(data)))
    return parts
