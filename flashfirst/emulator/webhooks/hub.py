"""Static webhooks as ``client.webhooks.create/list/get/update/delete/ping`` keep them
(their routes are in ``endpoints``), and deliveries when a batch job ends.

A webhook's signing secret (``whsec_`` + base64) is shown once, in the create answer; later
reads show only a truncated form. Deliveries follow the Standard Webhooks spec (headers
``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``), signed
with the ``standardwebhooks`` package, body ``{"type": "batch.succeeded", "timestamp": …,
"data": {"name": "batches/…", "state": …, "user_metadata": {…}}}``. Delivery is at least
once: a background thread retries with exponential backoff while the receiver answers
non-2xx (``config.webhooks``), and sends duplicates or drops job ends when asked to.
A job created with ``webhook_config.uris`` goes to those URIs instead of the registered
webhooks, signed as an RS256 JWT in ``webhook-signature`` (claims: ``webhook_id``,
``body_sha256`` binding the body, ``aud`` the URI, ``iat``/``exp``), verifiable with the
keys at ``/.well-known/gemini-webhooks-jwks.json``; Google's claim names are not
documented in the pages we read, so these are the emulator's. ``user_metadata`` from the
job's ``webhook_config`` rides along either way.

A background interaction's end is delivered the same way (``interactions.ends``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from standardwebhooks import Webhook

from flashfirst.emulator.batches.completion import complete_due_batches
from flashfirst.emulator.batches.jobs import BatchJob
from flashfirst.emulator.interactions.ends import interaction_ends, pending_dynamic
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.wire.codec import Json, get, timestamp
from flashfirst.emulator.wire.errors import invalid_argument, not_found

logger = logging.getLogger(__name__)

EVENTS = frozenset({"batch.succeeded", "batch.expired", "batch.failed", "batch.cancelled",
                    "interaction.requires_action", "interaction.completed",
                    "interaction.failed", "interaction.cancelled", "video.generated"})
STATES = ("enabled", "disabled", "disabled_due_to_failed_deliveries")
_ENDED = {"SUCCEEDED": "batch.succeeded", "FAILED": "batch.failed",
          "EXPIRED": "batch.expired", "CANCELLED": "batch.cancelled"}
TICK_S = 0.1  # how often the delivery thread looks for ended jobs and due retries


@dataclass
class StoredWebhook:
    id: str
    uri: str
    subscribed_events: list[str]
    secret: str
    create_time: float
    update_time: float
    name: str | None = None
    state: str = "enabled"

    def resource(self, *, with_secret: bool = False) -> Json:
        answer: Json = {
            "id": self.id, "uri": self.uri, "subscribed_events": self.subscribed_events,
            "state": self.state, "create_time": timestamp(self.create_time),
            "update_time": timestamp(self.update_time),
            "signing_secrets": [{"truncated_secret": self.secret[:10] + "…"}]}
        if self.name:
            answer["name"] = self.name
        if with_secret:
            answer["new_signing_secret"] = self.secret
        return answer


@dataclass
class Delivery:
    webhook_id: str
    uri: str
    body: str
    secret: str | None  # None: a dynamic webhook, signed as a JWT
    first_at: float
    next_at: float
    attempts: int = 0
    retry: bool = True


@dataclass
class Attempt:
    """One POST the emulator made, as tests read it (``hub.attempts``)."""

    webhook_id: str
    uri: str
    event: str
    status: int | None  # None: no answer (refused connection, timeout)


@dataclass
class WebhookHub:
    """The registered webhooks and the deliveries in flight, with the thread sending them."""

    state: EmulatorState
    webhooks: dict[str, StoredWebhook] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)  # batch ids whose end was handled
    queue: list[Delivery] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    generation: int = 0  # bumped by reset: what was in flight before it is forgotten

    def reset(self) -> None:
        """Forget every webhook, pending delivery, attempt and announced job (the emulator's
        reset): job names start over after it, so an announced name must not stay known.
        A delivery being sent meanwhile is dropped, not retried or recorded."""
        with self._lock:
            self.webhooks.clear()
            self.announced.clear()
            self.queue.clear()
            self.attempts.clear()
            self.generation += 1

    def jwks(self) -> Json:
        """The public half of the key dynamic deliveries are signed with."""
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**key, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    # -- the API ------------------------------------------------------------------------

    def create(self, body: Json) -> Json:
        uri, events = get(body, "uri"), get(body, "subscribedEvents")
        if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
            raise invalid_argument("webhook.uri must be an http(s) URL.")
        events = _events(events)
        now = self.state.now()
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        hook = StoredWebhook(id=uuid.uuid4().hex[:16], uri=uri, subscribed_events=events,
                             secret=secret, create_time=now, update_time=now,
                             name=get(body, "name"))
        with self._lock:
            self.webhooks[hook.id] = hook
        self.wake()
        return hook.resource(with_secret=True)

    def find(self, webhook_id: str) -> StoredWebhook:
        hook = self.webhooks.get(webhook_id.removeprefix("webhooks/"))
        if hook is None:
            raise not_found(f"Webhook {webhook_id} not found.")
        return hook

    def update(self, webhook_id: str, body: Json, mask: str | None) -> Json:
        hook = self.find(webhook_id)
        fields = [f.strip() for f in mask.split(",")] if mask else list(body)
        for name in fields:
            key = {"subscribedEvents": "subscribed_events"}.get(name, name)
            value = get(body, {"subscribed_events": "subscribedEvents"}.get(key, key))
            if key == "subscribed_events":
                hook.subscribed_events = _events(value)
            elif key == "uri" and isinstance(value, str):
                hook.uri = value
            elif key == "state" and value in STATES:
                hook.state = value
            elif key == "name":
                hook.name = value
            else:
                raise invalid_argument(f"Cannot update webhook field {name!r} to {value!r}.")
        hook.update_time = self.state.now()
        return hook.resource()

    def delete(self, webhook_id: str) -> None:
        hook = self.find(webhook_id)
        with self._lock:
            del self.webhooks[hook.id]

    def ping(self, webhook_id: str) -> None:
        hook = self.find(webhook_id)
        self._enqueue(hook.uri, hook.secret, "webhook.ping", {"webhook": hook.id},
                      retry=False)
        self.wake()

    # -- deliveries ---------------------------------------------------------------------

    def _enqueue(self, uri: str, secret: str | None, event: str, data: Json,
                 retry: bool = True) -> None:
        body = json.dumps({"type": event, "timestamp": timestamp(self.state.now()),
                           "data": data})
        webhook_id = f"msg_{uuid.uuid4().hex}"
        now = time.monotonic()
        copies = 1
        knobs = self.state.config.webhooks
        if random.Random(f"{self.state.config.seed}:{webhook_id}").random() \
                < knobs.duplicate_share:
            copies = 2
        with self._lock:
            for _ in range(copies):
                self.queue.append(Delivery(webhook_id=webhook_id, uri=uri, body=body,
                                           secret=secret, first_at=now, next_at=now,
                                           retry=retry))

    def _announce_ended_jobs(self) -> None:
        """Queue one delivery per subscribed webhook for each job that ended since."""
        complete_due_batches(self.state)
        with self.state.lock:
            now = self.state.now()
            ended = [j for j in self.state.batches.values()
                     if j.id not in self.announced and j.state(now) in _ENDED]
            for job in ended:
                self.announced.add(job.id)
        knobs = self.state.config.webhooks
        for job in ended:
            if random.Random(f"{self.state.config.seed}:drop:{job.id}").random() \
                    < knobs.drop_share:
                logger.info("dropping the end of %s on purpose (drop_share)", job.name)
                continue
            self._announce(job, now)
        self._announce_ended_interactions()

    def _announce_ended_interactions(self) -> None:
        """Background interactions that finished (or were cancelled) since the last look."""
        for end in interaction_ends(self.state, self.announced):
            if random.Random(f"{self.state.config.seed}:drop:{end.id}").random() \
                    < self.state.config.webhooks.drop_share:
                logger.info("dropping the end of %s on purpose (drop_share)", end.id)
                continue
            self._deliver(end.event, end.data, end.uris, end.at)

    def _announce(self, job: BatchJob, now: float) -> None:
        state = job.state(now)
        event = _ENDED[state]
        config = job.webhook_config or {}
        data: Json = {"name": job.name, "state": f"BATCH_STATE_{state}",
                      "user_metadata": get(config, "userMetadata") or {}}
        end = job.cancelled_at if job.cancelled_at is not None else job.done_at
        self._deliver(event, data, get(config, "uris"), end)

    def _deliver(self, event: str, data: Json, uris: list[str] | None, end: float) -> None:
        """To the job's own URIs (dynamic, a JWT) when it has some, else to every webhook
        subscribed to ``event`` that existed when the job ended."""
        if uris:  # dynamic: these URIs instead of the registered webhooks
            for uri in uris:
                self._enqueue(uri, None, event, data)
            self.wake()
            return
        for hook in list(self.webhooks.values()):
            if hook.state == "enabled" and event in hook.subscribed_events \
                    and hook.create_time <= end:  # not jobs that ended before it existed
                self._enqueue(hook.uri, hook.secret, event, data)

    def _send_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [d for d in self.queue if d.next_at <= now]
            generation = self.generation
        for delivery in due:
            if self.generation != generation:  # a reset forgot the rest
                return
            status = self._post(delivery, generation)
            knobs = self.state.config.webhooks
            delivery.attempts += 1
            done = status is not None and 200 <= status < 300
            expired = time.monotonic() - delivery.first_at > knobs.give_up_after_s
            with self._lock:
                if self.generation != generation:
                    return
                if done or not delivery.retry or expired:
                    self.queue.remove(delivery)
                else:
                    delivery.next_at = time.monotonic() + min(
                        knobs.retry_base_s * 2 ** (delivery.attempts - 1), knobs.retry_max_s)

    def _post(self, delivery: Delivery, generation: int) -> int | None:
        at = datetime.now(UTC)
        signature = Webhook(delivery.secret).sign(delivery.webhook_id, at, delivery.body) \
            if delivery.secret is not None else self._jwt(delivery, at)
        headers = {"webhook-id": delivery.webhook_id,
                   "webhook-timestamp": str(int(at.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json"}
        event = json.loads(delivery.body)["type"]
        try:
            response = httpx.post(delivery.uri, content=delivery.body, headers=headers,
                                  timeout=self.state.config.webhooks.timeout_s)
            status: int | None = response.status_code
        except httpx.HTTPError as exc:
            logger.info("webhook delivery %s to %s failed: %s", delivery.webhook_id,
                        delivery.uri, type(exc).__name__)
            status = None
        with self._lock:
            if generation == self.generation:
                self.attempts.append(Attempt(delivery.webhook_id, delivery.uri, event, status))
        return status

    def _jwt(self, delivery: Delivery, at: datetime) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(delivery.body.encode()).digest())
        claims = {"iss": "gemini-emulator", "aud": delivery.uri, "iat": at,
                  "exp": at.timestamp() + 300, "webhook_id": delivery.webhook_id,
                  "body_sha256": digest.decode().rstrip("=")}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def wake(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="emulator-webhooks",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Until no webhook is registered and nothing is left to send."""
        while True:
            try:
                self._announce_ended_jobs()
                self._send_due()
            except Exception:  # an emulator bug: keep delivering the rest, and say so
                logger.exception("webhook delivery loop")
            with self._lock, self.state.lock:
                dynamic_pending = any(
                    j.webhook_config and j.id not in self.announced
                    for j in self.state.batches.values()) or any(
                    pending_dynamic(i, self.announced)
                    for i in self.state.interactions.values())
                if not self.webhooks and not self.queue and not dynamic_pending:
                    self._thread = None
                    return
            time.sleep(TICK_S)


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid_argument("webhook.subscribed_events must list at least one event.")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise invalid_argument(f"Unknown subscribed_events {unknown}; known: {sorted(EVENTS)}.")
    return list(value)
