"""What every surface's handler does around its own work: find the emulator's state, read
the body within the request size limit, name the model in the path, and log the call."""

from __future__ import annotations

from starlette.requests import Request

from flashfirst.emulator.config import EmulatedModel
from flashfirst.emulator.state import EmulatorState
from flashfirst.emulator.stats import LogEntry
from flashfirst.emulator.wire.codec import Json, read_json
from flashfirst.emulator.wire.errors import invalid_argument, model_not_found


def emulator(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def model_or_404(state: EmulatorState, request: Request, method: str, *,
                 route: bool = True) -> EmulatedModel:
    """The model named in the path; with ``route``, the one that serves it today (a retired
    or re-routed id is answered by its replacement, whose rules then apply)."""
    model_id = request.path_params["model"]
    model = state.serving(model_id) if route else state.model(model_id)
    if model is None:
        raise model_not_found(model_id, request.path_params.get("version", "v1beta"), method)
    return model


async def body_of(state: EmulatorState, request: Request) -> Json:
    raw = await request.body()
    if len(raw) > state.config.max_request_bytes:
        raise invalid_argument(f"Request payload size exceeds the limit: "
                               f"{state.config.max_request_bytes} bytes.")
    return read_json(raw)


def log_call(state: EmulatorState, endpoint: str, model: str | None, status: int, *,
             requested: str | None = None, tier_requested: str | None = None,
             tier_served: str | None = None, usage: Json | None = None,
             latency_s: float = 0.0, delay_s: float = 0.0, at: float | None = None,
             thinking_config: Json | None = None, generation_config: Json | None = None,
             content_digest: str | None = None, labels: dict[str, str] | None = None) -> None:
    with state.lock:
        state.stats.record(LogEntry(time=state.now() if at is None else at, endpoint=endpoint,
                                    model=model, model_requested=requested or model,
                                    status=status, tier_requested=tier_requested,
                                    tier_served=tier_served, usage=usage,
                                    thinking_config=thinking_config,
                                    generation_config=generation_config,
                                    content_digest=content_digest, labels=labels,
                                    latency_s=latency_s, delay_s=delay_s))
