"""``models`` and ``models/{m}``: the catalogue a client can discover."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.calls import emulator, model_or_404
from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.wire.codec import Json, page
from flashfirst.emulator.wire.errors import ApiError

_METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]


def model_resource(model: EmulatedModel) -> Json:
    version = model.id.removeprefix("gemini-").split("-")[0]
    return {
        "name": f"models/{model.id}",
        "version": version,
        "displayName": model.display_name or model.id,
        "description": f"Emulated {model.display_name or model.id}.",
        "inputTokenLimit": model.input_token_limit,
        "outputTokenLimit": model.output_token_limit,
        "supportedGenerationMethods": list(_METHODS),
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": True,
    }


async def get_model(request: Request) -> Response:
    state = emulator(request)
    try:
        model = model_or_404(state, request, "getModel", route=False)
    except ApiError as exc:
        return exc.response()
    with state.lock:
        state.stats.count_call("models.get", model.id)
    return JSONResponse(model_resource(model))


async def list_models(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("models.list", None)
        models = list(state.config.models)
    try:
        chunk, token = page(models, request.query_params, 50, 1000)
    except ApiError as exc:
        return exc.response()
    answer: Json = {"models": [model_resource(m) for m in chunk]}
    if token:
        answer["nextPageToken"] = token
    return JSONResponse(answer)


async def list_tuned_models(request: Request) -> Response:
    return JSONResponse({"tunedModels": []})
