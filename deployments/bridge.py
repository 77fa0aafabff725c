"""The GCS-notification -> Prefect-event bridge: an HTTP endpoint for Pub/Sub push
subscriptions and Eventarc triggers, because self-hosted Prefect has no webhooks.

``POST /notifications?token=...`` (or ``Authorization: Bearer ...``) takes a Pub/Sub push
envelope or an Eventarc CloudEvent (binary or structured) and, for an object finalized in
the configured bucket and prefix, emits ``gcs.object.finalized`` once per object version.
Answers: 200 with ``{"status": "emitted" | "duplicate" | "ignored"}`` (Pub/Sub acks),
400 unreadable, 401 no token, 403 wrong token, 503 Prefect did not take the event (Pub/Sub
delivers again). Run it: ``python -m flashfirst.deployments.bridge`` (settings from the
environment).

``POST /gemini-webhooks`` (when ``FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET`` or
``FLASHFIRST_BRIDGE_GEMINI_JWKS_URL`` is set) takes Gemini's webhook deliveries, verified
on the raw body (``gemini_webhooks``) and emitted as ``gemini.batch.*`` /
``gemini.interaction.*`` once per ``webhook-id``. Answers: 200 ``{"status": "emitted"}``
or ``"duplicate"``; 401 unsigned; 403 mis-signed or replayed; 413 too large; 400 not
JSON; 422 an event we do not know; 503 Prefect did not take the event or the JWKS could
not be read (Gemini delivers again).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from flashfirst.deployments.dispatch import Announcer
from flashfirst.deployments.gemini_webhooks import (
    MAX_DELIVERY,
    DeliveryRefused,
    GeminiWebhookVerifier,
    SeenDeliveries,
)
from flashfirst.deployments.notifications import (
    MalformedNotification,
    Notification,
    from_cloudevent,
    from_push_envelope,
)
from flashfirst.tasks.gemini_events import emit_gemini_job_ended
from flashfirst.tasks.object_events import Emit, emit_confirmed
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flashfirst.errors import ConfigError
from flashfirst.inputs.seen_objects import SeenObjects

log = logging.getLogger("flashfirst.bridge")

MAX_BODY = 1024 * 1024  # a GCS notification is a few kB

#: Extra check after the token, e.g. verifying Pub/Sub's or Eventarc's OIDC JWT with
#: ``google.oauth2.id_token.verify_oauth2_token(jwt, google.auth.transport.requests.Request(),
#: audience=...)``. Return False to answer 403. With OIDC in the Authorization header, pass
#: the shared token as ``?token=``.
Verify = Callable[[Request], Awaitable[bool]]


class BridgeSettings(BaseSettings):
    """``FLASHFIRST_BRIDGE_*``: what the bridge (push) and the puller (pull) accept."""

    model_config = SettingsConfigDict(env_prefix="FLASHFIRST_BRIDGE_", env_file=".env",
                                      extra="ignore")

    token: SecretStr | None = Field(
        None, description="Shared secret every request must carry (required to serve push).")
    bucket: str | None = Field(None, description="Only this bucket's objects (any if unset).")
    prefix: str = Field("", description="Only object names starting with this.")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    marker_root: str | None = Field(
        None, description="gs:// or local folder for durable de-duplication markers, so a "
        "restarted bridge does not announce an object twice; memory only if unset.")
    memory_size: int = Field(10_000, gt=0, description="Object versions remembered in memory.")
    subscription: str | None = Field(
        None, description="Pull mode: projects/<p>/subscriptions/<s> to read.")
    gemini_webhook_secret: SecretStr | None = Field(
        None, description="The whsec_… signing secret webhooks.create returned (during a "
        "rotation: old and new, space-separated); serves POST /gemini-webhooks when set.")
    gemini_jwks_url: str | None = Field(
        None, description="Where the keys of dynamic (per-job, RS256 JWT) Gemini webhooks "
        "are published; serves POST /gemini-webhooks for them when set.")
    gemini_jwt_audience: str | None = Field(
        None, description="The aud a dynamic delivery's JWT must name (the URI given in "
        "webhook_config.uris); not checked if unset.")

    @property
    def takes_gemini_webhooks(self) -> bool:
        return self.gemini_webhook_secret is not None or self.gemini_jwks_url is not None

    def announcer(self, emit: Emit = emit_confirmed) -> Announcer:
        seen = SeenObjects(self.memory_size, self.marker_root)
        return Announcer(seen, bucket=self.bucket, prefix=self.prefix, emit=emit)


def create_bridge_app(settings: BridgeSettings, emit: Emit = emit_confirmed,
                      verify: Verify | None = None) -> Starlette:
    """The bridge as an ASGI app; ``emit`` sends to the Prefect server and waits for it to
    take the event (answering 200 tells Pub/Sub to forget the notification) unless a test
    records instead, ``verify`` an optional extra check such as OIDC."""
    has_token = settings.token is not None and bool(settings.token.get_secret_value())
    if not has_token and not settings.takes_gemini_webhooks:
        raise ConfigError("FLASHFIRST_BRIDGE_TOKEN is not set (nor "
                          "FLASHFIRST_BRIDGE_GEMINI_WEBHOOK_SECRET): the bridge will not run "
                          "open")
    announcer = settings.announcer(emit)
    expected = settings.token.get_secret_value().encode() if settings.token else b""
    counts: Counter[str] = Counter()  # what /healthz reports: emitted, duplicate, ...

    async def notifications(request: Request) -> Response:
        outcome, response = await answer(request)
        counts[outcome] += 1
        return response

    async def answer(request: Request) -> tuple[str, Response]:
        if (denied := _check_token(request, expected)) is not None:
            return "rejected", denied
        if verify is not None and not await verify(request):
            return "rejected", _error(403, "request failed verification")
        if (body := await _read_body(request)) is None:
            return "rejected", _error(413, "body too large for a GCS notification")
        try:
            note = _parse(request, body)
        except MalformedNotification as exc:
            log.warning("rejected notification: %s", exc)
            return "rejected", _error(400, str(exc))
        try:
            handled = await run_in_threadpool(announcer.handle, note)
        except Exception:
            log.exception("could not announce notification %s", note.message_id)
            return "failed", _error(503, "could not announce the object now; deliver again")
        log.info("notification %s: %s %s", note.message_id, handled.status, handled.reason)
        return handled.status, JSONResponse(handled.model_dump(mode="json", exclude_none=True))

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "counts": dict(counts)})

    routes = [Route("/healthz", health, methods=["GET"])]
    if has_token:
        routes.append(Route("/notifications", notifications, methods=["POST"]))
    if settings.takes_gemini_webhooks:
        verifier = GeminiWebhookVerifier(settings.gemini_webhook_secret,
                                         settings.gemini_jwks_url, settings.gemini_jwt_audience)
        routes.append(Route("/gemini-webhooks", _gemini_webhooks(verifier, emit, counts),
                            methods=["POST"]))
    return Starlette(routes=routes)


def _gemini_webhooks(verifier: GeminiWebhookVerifier, emit: Emit,
                     counts: Counter[str]) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``POST /gemini-webhooks``; /healthz counts ``gemini_<outcome>``."""
    seen = SeenDeliveries()

    async def gemini_webhooks(request: Request) -> Response:
        outcome, response = await answer(request)
        counts[f"gemini_{outcome}"] += 1
        return response

    async def answer(request: Request) -> tuple[str, Response]:
        if (body := await _read_body(request, MAX_DELIVERY)) is None:
            return "too_large", _error(413, "body too large for a Gemini webhook delivery")
        try:
            ended = await run_in_threadpool(verifier.verify, request.headers, body)
        except DeliveryRefused as exc:
            log.warning("refused a Gemini webhook delivery (%s): %s", exc.refusal.value, exc)
            return exc.refusal.value, _error(exc.refusal.status, str(exc))
        if not seen.claim(ended.webhook_id):
            return "duplicate", JSONResponse({"status": "duplicate", "name": ended.name})
        try:
            event = await run_in_threadpool(emit_gemini_job_ended, ended, emit)
            if event is None:
                raise RuntimeError("Prefect did not take the event")
        except Exception:
            seen.release(ended.webhook_id)
            log.exception("could not announce %s of %s", ended.event_type, ended.name)
            return "failed", _error(503, "could not announce the event now; deliver again")
        log.info("Gemini webhook %s: %s %s", ended.webhook_id, ended.event_type, ended.name)
        return "emitted", JSONResponse({"status": "emitted", "event": ended.prefect_event,
                                        "name": ended.name})

    return gemini_webhooks


def _check_token(request: Request, expected: bytes) -> Response | None:
    """401 without a token, 403 with a wrong one; constant-time, never echoing it."""
    given = request.query_params.get("token")
    if given is None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else None
    if not given:
        return _error(401, "missing token", {"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode(), expected):
        log.warning("rejected a request with a wrong token from %s",
                    request.client.host if request.client else "?")
        return _error(403, "wrong token")
    return None


async def _read_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None past ``limit`` (read no further: nobody fills our memory)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _parse(request: Request, body: bytes) -> Notification:
    headers = {k.lower(): v for k, v in request.headers.items()}
    content_type = headers.get("content-type", "")
    if "ce-specversion" in headers or content_type.startswith("application/cloudevents+json"):
        return from_cloudevent(headers, body)
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNotification("body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise MalformedNotification("body is not a Pub/Sub push envelope")
    return from_push_envelope(envelope)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def app_from_env() -> Starlette:
    """``uvicorn --factory flashfirst.deployments.bridge:app_from_env``; settings from the env."""
    return create_bridge_app(BridgeSettings())


def main() -> None:
    import uvicorn

    settings = BridgeSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # No access log: Pub/Sub push puts the token in the query string it would print.
    uvicorn.run(create_bridge_app(settings), host=settings.host, port=settings.port,
                access_log=False, log_level="info")


if __name__ == "__main__":
    main()
