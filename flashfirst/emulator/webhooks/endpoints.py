"""The ``webhooks`` routes (create, list, get, update, delete, ping), the JWKS that verifies
dynamic deliveries, and the wrapper that wakes the hub after a batch or interaction create."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.calls import body_of, emulator
from flashfirst.emulator.webhooks.hub import WebhookHub
from flashfirst.emulator.wire.codec import Json, page


def watching(handler: Callable[[Request], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` (a batch or interaction create), then make sure a job's dynamic webhooks
    will be sent."""

    async def endpoint(request: Request) -> Response:
        response = await handler(request)
        hub_of(request).wake()
        return response

    return endpoint


def hub_of(request: Request) -> WebhookHub:
    hub: WebhookHub = request.app.state.webhooks
    return hub


async def create_webhook(request: Request) -> Response:
    body = await body_of(emulator(request), request)
    return JSONResponse(hub_of(request).create(body))


async def list_webhooks(request: Request) -> Response:
    hooks = sorted(hub_of(request).webhooks.values(), key=lambda h: h.create_time)
    chunk, token = page(hooks, request.query_params, 50, 100)
    answer: Json = {"webhooks": [h.resource() for h in chunk]}
    if token:
        answer["next_page_token"] = token
    return JSONResponse(answer)


async def get_webhook(request: Request) -> Response:
    return JSONResponse(hub_of(request).find(request.path_params["webhook_id"]).resource())


async def update_webhook(request: Request) -> Response:
    body = await body_of(emulator(request), request)
    return JSONResponse(hub_of(request).update(
        request.path_params["webhook_id"], body, request.query_params.get("update_mask")))


async def delete_webhook(request: Request) -> Response:
    hub_of(request).delete(request.path_params["webhook_id"])
    return JSONResponse({})


async def jwks(request: Request) -> Response:
    return JSONResponse(hub_of(request).jwks())


async def ping_webhook(request: Request) -> Response:
    hub_of(request).ping(request.path_params["webhook_id"])
    return JSONResponse({})
