"""The Starlette app: Gemini Developer API routes under ``/v1/`` and ``/v1beta/``, the
upload routes under ``/upload/``, the Agent Platform's under ``/{v1,v1beta1}/projects/``,
and the ``/_emulator/`` control routes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from flashfirst.emulator.batches import endpoints as batches
from flashfirst.emulator.caches import endpoints as caches
from flashfirst.emulator.config import EmulatorConfig, Script
from flashfirst.emulator.control import EmulatorControl
from flashfirst.emulator.files import endpoints as files
from flashfirst.emulator.generate import endpoints as generate
from flashfirst.emulator.generate import models
from flashfirst.emulator.interactions import endpoints as interactions
from flashfirst.emulator.platform import batches as platform_batches
from flashfirst.emulator.platform import endpoints as platform
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.webhooks import endpoints as webhooks
from flashfirst.emulator.webhooks.hub import WebhookHub
from flashfirst.emulator.wire.codec import read_json
from flashfirst.emulator.wire.errors import ApiError, api_key_invalid, not_found

API_VERSIONS = ("v1", "v1beta", "v1alpha")  # v1alpha: the preview version notebooks pick
logger = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


def _api(handler: Handler, *, needs_key: bool = True,
         render: Callable[[ApiError], Response] = ApiError.response,
         versions: tuple[str, ...] = API_VERSIONS,
         authorize: Callable[[Request], ApiError | None] | None = None) -> Handler:
    """Checks the version and the API key (or, with ``authorize``, the surface's own
    credentials), then runs the handler; ``render`` writes an error in the surface's own
    shape."""

    async def endpoint(request: Request) -> Response:
        if request.path_params.get("version") not in versions:
            return render(not_found(f"Unknown API version in {request.url.path}"))
        state: EmulatorState = request.app.state.emulator
        expected = state.config.api_key
        upload_chunk = request.url.path.startswith("/upload/") and \
            "upload_id" in request.query_params
        refused = authorize(request) if authorize is not None else None
        if refused is not None:
            return render(refused)
        if authorize is None and needs_key and expected and not upload_chunk:
            given = request.headers.get("x-goog-api-key") or request.query_params.get("key")
            if given != expected:
                return render(api_key_invalid())
        try:
            return await handler(request)
        except ApiError as exc:
            return render(exc)
        except Exception as exc:  # an emulator bug: answer as the API would, and log it
            logger.exception("emulator error on %s %s", request.method, request.url.path)
            return render(ApiError(500, f"Internal error encountered: "
                                        f"{type(exc).__name__}: {exc}"))

    return endpoint


def _api_routes() -> list[Route]:
    v = "/{version}"
    table: list[tuple[str, Handler, list[str]]] = [
        (f"{v}/models/{{model}}:generateContent", generate.generate_content, ["POST"]),
        (f"{v}/models/{{model}}:streamGenerateContent", generate.stream_generate_content,
         ["POST"]),
        (f"{v}/models/{{model}}:countTokens", generate.count_tokens, ["POST"]),
        (f"{v}/models/{{model}}:batchGenerateContent",
         webhooks.watching(batches.create_batch), ["POST"]),
        (f"{v}/models/{{model}}", models.get_model, ["GET"]),
        (f"{v}/models", models.list_models, ["GET"]),
        (f"{v}/tunedModels", models.list_tuned_models, ["GET"]),
        (f"{v}/cachedContents", caches.create_cache, ["POST"]),
        (f"{v}/cachedContents", caches.list_caches, ["GET"]),
        (f"{v}/cachedContents/{{cache_id}}", caches.get_cache, ["GET"]),
        (f"{v}/cachedContents/{{cache_id}}", caches.update_cache, ["PATCH"]),
        (f"{v}/cachedContents/{{cache_id}}", caches.delete_cache, ["DELETE"]),
        (f"/upload{v}/files", files.upload, ["POST"]),
        (f"{v}/files/{{file_id}}:download", files.download_file, ["GET"]),
        (f"/download{v}/files/{{file_id}}:download", files.download_file, ["GET"]),
        (f"{v}/files", files.list_files, ["GET"]),
        (f"{v}/files/{{file_id}}", files.get_file, ["GET"]),
        (f"{v}/files/{{file_id}}", files.delete_file, ["DELETE"]),
        (f"{v}/batches/{{batch_id}}:cancel", batches.cancel_batch, ["POST"]),
        (f"{v}/batches", batches.list_batches, ["GET"]),
        (f"{v}/batches/{{batch_id}}", batches.get_batch, ["GET"]),
        (f"{v}/batches/{{batch_id}}", batches.delete_batch, ["DELETE"]),
        (f"{v}/webhooks/{{webhook_id}}:ping", webhooks.ping_webhook, ["POST"]),
        (f"{v}/webhooks", webhooks.create_webhook, ["POST"]),
        (f"{v}/webhooks", webhooks.list_webhooks, ["GET"]),
        (f"{v}/webhooks/{{webhook_id}}", webhooks.get_webhook, ["GET"]),
        (f"{v}/webhooks/{{webhook_id}}", webhooks.update_webhook, ["PATCH"]),
        (f"{v}/webhooks/{{webhook_id}}", webhooks.delete_webhook, ["DELETE"]),
    ]
    interaction_table: list[tuple[str, Handler, list[str]]] = [
        (f"{v}/interactions", webhooks.watching(interactions.create_interaction), ["POST"]),
        (f"{v}/interactions/{{interaction_id}}", interactions.get_interaction, ["GET"]),
        (f"{v}/interactions/{{interaction_id}}", interactions.delete_interaction,
         ["DELETE"]),
        (f"{v}/interactions/{{interaction_id}}/cancel", interactions.cancel_interaction,
         ["POST"]),
    ]
    return [Route(path, _api(handler), methods=methods) for path, handler, methods in table] \
        + [Route(path, _api(handler, render=interactions.render_error), methods=methods)
           for path, handler, methods in interaction_table] + _platform_routes()


def _platform_routes() -> list[Route]:
    """The Agent Platform's surface: project and location in the path, a bearer token."""
    parent, model = platform.PARENT, f"{platform.PARENT}/publishers/google/models/{{model}}"
    jobs = f"{parent}/batchPredictionJobs"
    table: list[tuple[str, Handler, list[str]]] = [
        (f"{model}:generateContent", platform.generate_content, ["POST"]),
        (f"{model}:streamGenerateContent", platform.stream_generate_content, ["POST"]),
        (f"{model}:countTokens", platform.count_tokens, ["POST"]),
        (f"{parent}/cachedContents", platform.create_cache, ["POST"]),
        (f"{parent}/cachedContents", platform.list_caches, ["GET"]),
        (f"{parent}/cachedContents/{{cache_id}}", platform.get_cache, ["GET"]),
        (f"{parent}/cachedContents/{{cache_id}}", platform.update_cache, ["PATCH"]),
        (f"{parent}/cachedContents/{{cache_id}}", platform.delete_cache, ["DELETE"]),
        (jobs, platform_batches.create_job, ["POST"]),
        (jobs, platform_batches.list_jobs, ["GET"]),
        (f"{jobs}/{{job_id}}:cancel", platform_batches.cancel_job, ["POST"]),
        (f"{jobs}/{{job_id}}", platform_batches.get_job, ["GET"]),
        (f"{jobs}/{{job_id}}", platform_batches.delete_job, ["DELETE"]),
        ("/{version}/publishers/google/models", platform.list_publisher_models, ["GET"]),
        ("/{version}/publishers/google/models/{model}", platform.get_publisher_model, ["GET"]),
    ]
    return [Route(path, _api(handler, versions=platform.VERSIONS,
                             authorize=platform.bearer_error), methods=methods)
            for path, handler, methods in table]


def _control_routes(control: EmulatorControl) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def get_config(request: Request) -> Response:
        return JSONResponse(control.config.model_dump(mode="json"))

    async def post_config(request: Request) -> Response:
        try:
            patch = read_json(await request.body())
            config = control.configure(**patch)
        except (ApiError, ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(config.model_dump(mode="json"))

    async def get_stats(request: Request) -> Response:
        return JSONResponse(control.stats().model_dump(mode="json"))

    async def post_reset(request: Request) -> Response:
        control.reset()
        return JSONResponse({})

    async def post_script(request: Request) -> Response:
        try:
            script = control.add_script(Script.model_validate(read_json(await request.body())))
        except (ApiError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(script.model_dump(mode="json"))

    async def delete_scripts(request: Request) -> Response:
        control.clear_scripts()
        return JSONResponse({})

    async def post_clock(request: Request) -> Response:
        body = read_json(await request.body())
        return JSONResponse({"now": control.advance_clock(float(body.get("advance_s", 0)))})

    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/config", get_config, methods=["GET"]),
        Route("/_emulator/config", post_config, methods=["POST"]),
        Route("/_emulator/stats", get_stats, methods=["GET"]),
        Route("/_emulator/reset", post_reset, methods=["POST"]),
        Route("/_emulator/scripts", post_script, methods=["POST"]),
        Route("/_emulator/scripts", delete_scripts, methods=["DELETE"]),
        Route("/_emulator/clock", post_clock, methods=["POST"]),
        Route("/.well-known/gemini-webhooks-jwks.json", webhooks.jwks, methods=["GET"]),
    ]


class EmulatorApp:
    """The ASGI app. It sits outside Starlette so a handler can drop its connection:
    only uvicorn's own ``send`` leads to the socket."""

    def __init__(self, app: Starlette, state: EmulatorState, control: EmulatorControl) -> None:
        self.starlette = app
        self.emulator_state = state
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        scope["flashfirst.abort"] = lambda: _abort(send)

        async def dated(message: Message) -> None:
            # The Date header comes from the emulator's clock (uvicorn's own is turned off),
            # so advance_clock moves the date a client prices a call by.
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"date"]
                stamp = formatdate(self.emulator_state.now(), usegmt=True)
                message = {**message, "headers": [*headers, (b"date", stamp.encode())]}
            await send(message)

        await self.starlette(scope, receive, dated)


def _abort(send: Send) -> bool:
    """Close the socket at once; uvicorn's cycle is told so it writes nothing more."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        return False
    cycle.disconnected = True
    transport.abort()
    return True


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """The emulator as an ASGI app; ``app.control`` drives it."""
    state = EmulatorState(config or EmulatorConfig())
    webhooks = WebhookHub(state)
    control = EmulatorControl(state, webhooks)

    async def not_found_handler(request: Request, exc: Exception) -> Response:
        return not_found(f"Method not found: {request.method} {request.url.path}").response()

    app = Starlette(routes=_control_routes(control) + _api_routes(),
                    exception_handlers={404: not_found_handler, 405: not_found_handler})
    app.state.emulator = state
    app.state.webhooks = webhooks
    return EmulatorApp(app, state, control)
