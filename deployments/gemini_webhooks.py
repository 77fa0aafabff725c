"""Gemini webhook deliveries into :class:`GeminiJobEnded`, refusing anything not signed
by Gemini: static webhooks (Standard Webhooks HMAC, with our secrets) and dynamic ones
(an RS256 JWT in ``webhook-signature``, checked against the published keys).

Verification uses the maintained ``standardwebhooks`` package (HMAC-SHA256 over
``webhook-id.webhook-timestamp.body``, every ``v1,`` signature of a rotation tried,
timestamps within ±5 minutes) on the raw bytes, before anything is parsed. During a secret
rotation the bridge may hold the old and the new secret (space-separated): a delivery signed
with either is accepted.

Dynamic deliveries are verified with PyJWT against the keys at
``FLASHFIRST_BRIDGE_GEMINI_JWKS_URL``: RS256 only, ``iat`` within ±5 minutes, the
``webhook_id`` claim equal to the header, ``body_sha256`` equal to the body's hash, and
``aud`` when ``FLASHFIRST_BRIDGE_GEMINI_JWT_AUDIENCE`` is set. Google's pages do not name
the claims; these are the ones our emulator signs, to re-check against a real delivery.

Refusals are typed (:class:`Refusal`): the bridge maps each to its HTTP status and counts it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from enum import StrEnum
from threading import Lock
from typing import Any

import jwt
from flashfirst.tasks.gemini_events import KNOWN_EVENTS, GeminiJobEnded
from pydantic import SecretStr, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from flashfirst.errors import ConfigError, FlashfirstError

MAX_DELIVERY = 256 * 1024  # a job-ended delivery is a few hundred bytes plus user_metadata
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Refusal(StrEnum):
    """Why a delivery was refused; the value is what /healthz counts."""

    UNSIGNED = "unsigned"            # 401: a Standard Webhooks header is missing
    BAD_SIGNATURE = "bad_signature"  # 403: no signature matches any of our secrets
    STALE = "stale"                  # 403: timestamp outside ±5 minutes (a replay)
    TOO_LARGE = "too_large"          # 413
    NOT_JSON = "not_json"            # 400: signed, but not a JSON object
    UNKNOWN_EVENT = "unknown_event"  # 422: signed, but no job event we know
    KEYS_UNAVAILABLE = "keys_unavailable"  # 503: the JWKS could not be read; deliver again

    @property
    def status(self) -> int:
        return {"unsigned": 401, "bad_signature": 403, "stale": 403, "too_large": 413,
                "not_json": 400, "unknown_event": 422, "keys_unavailable": 503}[self.value]


class DeliveryRefused(FlashfirstError):
    """A webhook delivery the bridge refuses; ``refusal`` says why (and its HTTP status)."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal


class GeminiWebhookVerifier:
    """Checks a delivery's signature with each configured secret (never logged or shown),
    or as a JWT when it is one and ``jwks_url`` is configured."""

    def __init__(self, secrets: SecretStr | None, jwks_url: str | None = None,
                 audience: str | None = None) -> None:
        self._jwt = GeminiJwtVerifier(jwks_url, audience) if jwks_url else None
        self._webhooks: list[Webhook] = []
        if secrets is not None:
            self._webhooks = _webhooks(secrets)

    def verify(self, headers: Mapping[str, str], body: bytes) -> GeminiJobEnded:
        """The delivery's job event, or :class:`DeliveryRefused` saying why not."""
        lowered = {k.lower(): v for k, v in headers.items()}
        missing = [h for h in SIGNATURE_HEADERS if not lowered.get(h)]
        if missing:
            raise DeliveryRefused(Refusal.UNSIGNED, f"missing header(s): {', '.join(missing)}")
        if len(body) > MAX_DELIVERY:
            raise DeliveryRefused(Refusal.TOO_LARGE, f"body over {MAX_DELIVERY} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise DeliveryRefused(Refusal.BAD_SIGNATURE, "body is not UTF-8") from None
        signature = lowered["webhook-signature"].strip()
        if signature.count(".") == 2 and "," not in signature:  # a JWT: a dynamic webhook
            if self._jwt is None:
                raise DeliveryRefused(Refusal.BAD_SIGNATURE, "a dynamic (JWT) delivery, and "
                                      "FLASHFIRST_BRIDGE_GEMINI_JWKS_URL is not set")
            self._jwt.verify(signature, lowered["webhook-id"], body)
        else:
            self._verify_hmac(lowered, text)
        return parse_delivery(lowered["webhook-id"], text)

    def _verify_hmac(self, lowered: dict[str, str], text: str) -> None:
        reason = "no static webhook secret is configured"
        for webhook in self._webhooks:
            try:
                webhook.verify(text, lowered, json_parse=False)
                return
            except WebhookVerificationError as exc:
                reason = str(exc)
            except (ValueError, TypeError):  # a malformed v1,<base64> entry
                reason = "malformed webhook-signature"
        refusal = Refusal.STALE if "timestamp too" in reason else Refusal.BAD_SIGNATURE
        raise DeliveryRefused(refusal, reason)


class GeminiJwtVerifier:
    """A dynamic delivery's RS256 JWT, against the keys published at ``jwks_url``."""

    TOLERANCE_S = 300

    def __init__(self, jwks_url: str, audience: str | None) -> None:
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=10)
        self._audience = audience

    def verify(self, token: str, webhook_id: str, body: bytes) -> None:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise DeliveryRefused(Refusal.KEYS_UNAVAILABLE, "could not read the JWKS") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise DeliveryRefused(Refusal.BAD_SIGNATURE, f"JWT key: {exc}") from None
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self._audience,
                                options={"require": ["iat", "webhook_id", "body_sha256"],
                                         "verify_aud": self._audience is not None})
        except jwt.ExpiredSignatureError:
            raise DeliveryRefused(Refusal.STALE, "JWT expired") from None
        except jwt.InvalidTokenError as exc:
            raise DeliveryRefused(Refusal.BAD_SIGNATURE, f"JWT: {exc}") from None
        if abs(time.time() - float(claims["iat"])) > self.TOLERANCE_S:
            raise DeliveryRefused(Refusal.STALE, "JWT issued outside ±5 minutes")
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
        if claims["webhook_id"] != webhook_id or claims["body_sha256"] != digest:
            raise DeliveryRefused(Refusal.BAD_SIGNATURE, "JWT is for another delivery")


def _webhooks(secrets: SecretStr) -> list[Webhook]:
    values = secrets.get_secret_value().split()
    if not values:
        raise ConfigError("FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET is empty")
    try:
        return [Webhook(v) for v in values]
    except Exception:  # a wrong value must not reach a log: say which setting, not what
        raise ConfigError("FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET is not a whsec_… base64 "
                          "secret as webhooks.create returned it") from None


def parse_delivery(webhook_id: str, text: str) -> GeminiJobEnded:
    """A verified body into its job event: ``{"type": "batch.succeeded", "data": {"name":
    "batches/…", "user_metadata": {…}}}`` (Standard Webhooks' envelope; ``id`` is accepted
    for ``name``, camelCase for snake_case)."""
    try:
        body = json.loads(text)
    except ValueError:
        raise DeliveryRefused(Refusal.NOT_JSON, "body is not JSON") from None
    if not isinstance(body, dict):
        raise DeliveryRefused(Refusal.NOT_JSON, "body is not a JSON object")
    event_type = body.get("type") or body.get("event_type")
    if event_type not in KNOWN_EVENTS:
        raise DeliveryRefused(Refusal.UNKNOWN_EVENT, f"unknown event type {event_type!r:.60}")
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    name = data.get("name") or data.get("id")
    metadata: Any = _either(data, "user_metadata", "userMetadata") \
        or _either(body, "user_metadata", "userMetadata") or {}
    try:
        return GeminiJobEnded(event_type=event_type, name=name, webhook_id=webhook_id,
                              user_metadata=metadata, state=data.get("state"))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise DeliveryRefused(Refusal.NOT_JSON, f"unreadable field(s): {fields}") from None


def _either(mapping: Mapping[str, Any], *keys: str) -> Any:
    return next((mapping[k] for k in keys if mapping.get(k) is not None), None)


class SeenDeliveries:
    """``webhook-id``s already announced (bounded memory); a claim is released when the
    announcement fails, so Google's redelivery may try again. Across restarts, Prefect's
    de-duplication by event id (derived from the same webhook-id) keeps one event."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def claim(self, webhook_id: str) -> bool:
        with self._lock:
            if webhook_id in self._ids:
                return False
            self._ids[webhook_id] = None
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True

    def release(self, webhook_id: str) -> None:
        with self._lock:
            self._ids.pop(webhook_id, None)
