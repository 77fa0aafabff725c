"""The Gemini Enterprise Agent Platform's surface (formerly Vertex AI), beside the Developer
API's on the same port: ``generateContent``, ``streamGenerateContent`` and ``countTokens``
under ``/{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}``, and
``cachedContents`` under ``/{version}/projects/{p}/locations/{l}``, and the publisher
models ``models.list``/``get`` read (``/{version}/publishers/google/models``); batch jobs
are in ``batches``. Calls are answered by the Developer API's ``generate.serving.serve``
and ``caches`` internals, so tokens, thinking, caching, quotas, faults, tiers and scripts are
the same; only the wire differs.

Paths and bodies as google-genai 3.6.1 sends them with ``vertexai=True`` (checked
2026-12-02 against a recording server): ``POST /v1beta1/projects/{p}/locations/{l}/publishers/
google/models/{m}:generateContent`` (``:streamGenerateContent?alt=sse``, ``:countTokens``),
``/v1beta1/projects/{p}/locations/{l}/cachedContents[/{id}]`` with the cache's ``model`` as
``projects/{p}/locations/{l}/publishers/google/models/{m}``, ``Authorization: Bearer …``
and no API key. Google's pages, as read (copies of 2026-12-02):

- https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/context-cache/
  context-cache-overview — cache names are ``projects/{p}/locations/{l}/cachedContents/
  {id}``; TTL defaults to 1 hour.
- research notes 1.6 (LiteLLM PR #37724, docs.litellm.ai vertex_ai_pay_go): the platform
  reports the served tier as ``usageMetadata.trafficType`` (``ON_DEMAND``,
  ``ON_DEMAND_FLEX``, ``ON_DEMAND_PRIORITY``), not a ``serviceTier`` usage field.
- A model the platform does not know answers 404 "Publisher Model `projects/…/publishers/
  google/models/{m}` was not found or your project does not have access to it." (users'
  captures of the platform's message).

The emulator's own rules: any bearer token is accepted (401 UNAUTHENTICATED without one;
an API key alone is not enough here); a platform cache is seen only under the project and
location that made it, and never by the Developer API's paths."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashfirst.emulator.caches import endpoints as caches
from flashfirst.emulator.calls import body_of, emulator, log_call
from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.generate.answers import details
from flashfirst.emulator.generate.endpoints import Surface, handle_generate
from flashfirst.emulator.generate.serving import prepare
from flashfirst.emulator.resources import StoredCache
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.tokens.rules import TokenCount
from flashfirst.emulator.wire.codec import Json, get, list_page, timestamp
from flashfirst.emulator.wire.errors import ApiError, cache_not_found_for_use, invalid_argument

VERSIONS = ("v1", "v1beta1")  # the SDK sends v1beta1; Google's REST samples show v1
PARENT = "/{version}/projects/{project}/locations/{location}"
_TRAFFIC = {"standard": "ON_DEMAND", "flex": "ON_DEMAND_FLEX", "priority": "ON_DEMAND_PRIORITY"}
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_CACHE_NAME = re.compile(r"^(projects/[^/]+/locations/[^/]+)/cachedContents/([^/]+)$")


def parent_of(request: Request) -> str:
    p = request.path_params
    return f"projects/{p['project']}/locations/{p['location']}"


def unauthenticated() -> ApiError:
    return ApiError(401, "Request is missing required authentication credential. Expected "
                         "OAuth 2 access token, login cookie or other valid authentication "
                         "credential.")


def bearer_error(request: Request) -> ApiError | None:
    """The platform takes an OAuth access token, never an API key on these paths."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return None if scheme.lower() == "bearer" and token.strip() else unauthenticated()


def publisher_model(parent: str, model_id: str) -> str:
    return f"{parent}/publishers/google/models/{model_id}"


def model_id_of(path: str) -> str:
    """``projects/…/publishers/google/models/m``, ``publishers/google/models/m`` or ``m``."""
    return str(path).rsplit("/models/", 1)[-1].removeprefix("models/")


def publisher_model_not_found(parent: str, model_id: str) -> ApiError:
    return ApiError(404, f"Publisher Model `{publisher_model(parent, model_id)}` was not "
                         "found or your project does not have access to it. Please ensure "
                         "you are using a valid model version.")


def serving_model(state: EmulatorState, parent: str, model_id: str) -> EmulatedModel:
    model = state.serving(model_id)
    if model is None:
        raise publisher_model_not_found(parent, model_id)
    return model


def _find_model(state: EmulatorState, request: Request, method: str) -> EmulatedModel:
    return serving_model(state, parent_of(request), request.path_params["model"])


def _check_labels(labels: object) -> None:
    """Cloud labels' rules: keys start with a lowercase letter; keys and values take
    lowercase letters, digits, "_" and "-", at most 63 characters."""
    if labels is None:
        return
    if not isinstance(labels, dict):
        raise invalid_argument("Invalid value at 'labels': expected a map of strings.")
    for key, value in labels.items():
        if not _LABEL_KEY.match(str(key)) or not _LABEL_VALUE.match(str(value)):
            raise invalid_argument(f"Invalid label {key!r}: {value!r}. Label keys and values "
                                   "may contain only lowercase letters, numeric characters, "
                                   "underscores and dashes, at most 63 characters; keys "
                                   "start with a lowercase letter.")


def storage_client(state: EmulatorState) -> Any:
    """A google-cloud-storage client on the configured endpoint, or the library's own
    choice (STORAGE_EMULATOR_HOST, else Google with Application Default Credentials)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    if state.config.gcs_endpoint:
        return storage.Client(project="emulator", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": state.config.gcs_endpoint})
    return storage.Client(project="emulator")


def _read_gs(state: EmulatorState, uri: str) -> bytes:
    bucket, _, path = uri.removeprefix("gs://").partition("/")
    try:
        return storage_client(state).bucket(bucket).blob(path).download_as_bytes()
    except Exception as exc:  # the caller's input: named with its URI, never a 500
        raise invalid_argument(f"Cannot read {uri} for fileData: {type(exc).__name__}: "
                               f"{exc}") from None


def _with_gs_media(state: EmulatorState, body: Json) -> Json:
    """The platform reads ``gs://`` file URIs itself (no Files API): the object's bytes
    are counted and answered as if they had been sent inline."""
    def part_of(part: Any) -> Any:
        file_data = get(part, "fileData") if isinstance(part, dict) else None
        uri = str(get(file_data, "fileUri") or "") if isinstance(file_data, dict) else ""
        if not uri.startswith("gs://"):
            return part
        rest = {k: v for k, v in part.items() if k not in ("fileData", "file_data")}
        data = base64.b64encode(_read_gs(state, uri)).decode()
        return {**rest, "inlineData": {"mimeType": get(file_data, "mimeType") or "", "data": data}}

    def content_of(content: Any) -> Any:
        parts = get(content, "parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            return content
        return {**{k: v for k, v in content.items() if k != "parts"},
                "parts": [part_of(p) for p in parts]}

    contents = get(body, "contents")
    if isinstance(contents, list):
        body = {**body, "contents": [content_of(c) for c in contents]}
    return body


def _local_body(state: EmulatorState, request: Request, body: Json) -> Json:
    """A platform cache name becomes the id the shared ``serve()`` resolves, once it is
    known to belong to this project and location; labels are checked as Google does;
    ``gs://`` media is read from Cloud Storage."""
    _check_labels(get(body, "labels"))
    body = _with_gs_media(state, body)
    name = get(body, "cachedContent")
    if not name:
        return body
    match = _CACHE_NAME.match(str(name))
    if match is None or match.group(1) != parent_of(request):
        raise cache_not_found_for_use()
    try:
        caches.live_cache(state, match.group(2), match.group(1))
    except ApiError:
        raise cache_not_found_for_use() from None
    local = {k: v for k, v in body.items() if k not in ("cachedContent", "cached_content")}
    return {**local, "cachedContent": f"cachedContents/{match.group(2)}"}


def _platform_usage(response: Json, served: str) -> Json:
    usage = {k: v for k, v in response["usageMetadata"].items() if k != "serviceTier"}
    usage["trafficType"] = _TRAFFIC.get(served, "ON_DEMAND")
    return {**response, "usageMetadata": usage, "createTime": timestamp(time.time())}


PLATFORM = Surface(find_model=_find_model, adapt_body=_local_body,
                   adapt_response=_platform_usage, tier_header=False)


async def generate_content(request: Request) -> Response:
    return await handle_generate(request, stream=False, surface=PLATFORM)


async def stream_generate_content(request: Request) -> Response:
    return await handle_generate(request, stream=True, surface=PLATFORM)


async def count_tokens(request: Request) -> Response:
    """The platform counts the whole request (system instruction and tools too) and adds
    the billable characters (non-whitespace text)."""
    state = emulator(request)
    model_id: str | None = request.path_params["model"]
    try:
        model = _find_model(state, request, "countTokens")
        with state.lock:
            state.stats.count_call("countTokens", model_id)
        body = _local_body(state, request, await body_of(state, request))
        call = prepare(state, model, {k: v for k, v in body.items()
                                      if k in ("contents", "systemInstruction",
                                               "system_instruction", "tools",
                                               "generationConfig", "cachedContent")})
    except ApiError as exc:
        log_call(state, "countTokens", model_id, exc.code)
        return exc.response()
    cached = call.cache.tokens if call.cache else TokenCount()
    answer: Json = {"totalTokens": call.prompt_total,
                    "totalBillableCharacters": len(re.sub(r"\s", "", call.prompt.text)),
                    "promptTokensDetails": details(call.prompt.tokens + cached)}
    log_call(state, "countTokens", model.id, 200)
    return JSONResponse(answer)


def cache_resource(cache: StoredCache) -> Json:
    parent = cache.parent or ""
    body: Json = {
        "name": f"{parent}/cachedContents/{cache.id}",
        "model": publisher_model(parent, cache.model),
        "createTime": timestamp(cache.create_time),
        "updateTime": timestamp(cache.update_time),
        "expireTime": timestamp(cache.expire_time),
        "usageMetadata": {"totalTokenCount": cache.tokens.total},
    }
    if cache.display_name:
        body["displayName"] = cache.display_name
    return body


async def body_and_model(request: Request, resource: str) -> tuple[Json, EmulatedModel]:
    """A create request's body and the model its ``model`` field names (any spelling)."""
    state = emulator(request)
    body = await body_of(state, request)
    model_id = model_id_of(get(body, "model") or "")
    if not model_id:
        raise invalid_argument(f"{resource}.model is required.")
    return body, serving_model(state, parent_of(request), model_id)


async def create_cache(request: Request) -> Response:
    state, parent = emulator(request), parent_of(request)
    try:
        body, model = await body_and_model(request, "CachedContent")
        cache = caches.create(state, model, _with_gs_media(state, body), parent)
    except ApiError as exc:
        log_call(state, "cachedContents.create", None, exc.code)
        return exc.response()
    log_call(state, "cachedContents.create", cache.model, 200)
    return JSONResponse(cache_resource(cache))


async def get_cache(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.get", None)
    cache = caches.live_cache(state, request.path_params["cache_id"], parent_of(request))
    return JSONResponse(cache_resource(cache))


async def list_caches(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.list", None)
    return listing(request, "cachedContents", caches.live_caches(state, parent_of(request)),
                   cache_resource)


def listing(request: Request, key: str, items: list[Any],
            render: Callable[[Any], Json]) -> Response:
    """One page of a list answer, as the platform's list methods give it."""
    return JSONResponse(list_page(request.query_params, key, items, render, 100, 1000))


async def update_cache(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.patch", None)
    cache = caches.update(state, await body_of(state, request),
                          request.path_params["cache_id"], parent_of(request))
    return JSONResponse(cache_resource(cache))


async def delete_cache(request: Request) -> Response:
    state = emulator(request)
    with state.lock:
        state.stats.count_call("cachedContents.delete", None)
    caches.delete(state, request.path_params["cache_id"], parent_of(request))
    return JSONResponse({})


def publisher_model_resource(model: EmulatedModel) -> Json:
    """A PublisherModel as the Model Garden lists it (the SDK reads name and versionId)."""
    return {"name": f"publishers/google/models/{model.id}", "versionId": "default",
            "openSourceCategory": "PROPRIETARY", "launchStage": "GA",
            "displayName": model.display_name or model.id}


async def list_publisher_models(request: Request) -> Response:
    """``GET /{version}/publishers/google/models``: what ``client.models.list()`` sends."""
    state = emulator(request)
    with state.lock:
        state.stats.count_call("models.list", None)
        models = list(state.config.models)
    return listing(request, "publisherModels", models, publisher_model_resource)


async def get_publisher_model(request: Request) -> Response:
    state = emulator(request)
    model_id = request.path_params["model"]
    model = state.model(model_id)
    if model is None:
        raise ApiError(404, f"Publisher Model `publishers/google/models/{model_id}` was not "
                            "found.")
    with state.lock:
        state.stats.count_call("models.get", model.id)
    return JSONResponse(publisher_model_resource(model))
