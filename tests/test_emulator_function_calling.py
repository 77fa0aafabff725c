"""Function calling and thought signatures on the emulator, through the unmodified SDK:
declared functions get deterministic calls, function responses get a text answer."""

from __future__ import annotations

from google import genai
from google.genai import types

FLASH = "gemini-3.8-flash"
LITE = "gemini-2.5-flash-lite"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather in a city.",
    parameters=types.Schema(type="OBJECT", properties={
        "city": types.Schema(type="STRING"), "days": types.Schema(type="INTEGER")},
        required=["city"]))
CLOCK = types.FunctionDeclaration(name="get_time", description="Local time in a city.",
                                  parameters=types.Schema(type="OBJECT", properties={
                                      "city": types.Schema(type="STRING")}))


def _config(**extra: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER, CLOCK])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **extra)


def test_a_declared_function_is_called_with_arguments_that_fit_its_schema(
        genai_client: genai.Client) -> None:
    response = genai_client.models.generate_content(
        model=FLASH, contents="What is the time in Oslo? Use get_time.", config=_config())

    call = response.function_calls[0]
    assert call.name == "get_time"  # the function the prompt names
    assert isinstance(call.args["city"], str)
    part = response.candidates[0].content.parts[-1]
    assert part.function_call and part.thought_signature  # Gemini 3 signs function calls
    again = genai_client.models.generate_content(
        model=FLASH, contents="What is the time in Oslo? Use get_time.", config=_config())
    assert again.function_calls[0].args == call.args


def test_a_function_response_turn_gets_a_text_answer(genai_client: genai.Client) -> None:
    question = types.Content(role="user", parts=[types.Part(text="Weather in Rome?")])
    first = genai_client.models.generate_content(model=FLASH, contents=[question],
                                                 config=_config())
    result = types.Part.from_function_response(name="get_weather",
                                               response={"temp_c": 21})
    answer = genai_client.models.generate_content(
        model=FLASH, config=_config(),
        contents=[question, first.candidates[0].content,
                  types.Content(role="user", parts=[result])])

    assert first.function_calls[0].name == "get_weather"  # none named: the first declared
    assert answer.text and not answer.function_calls


def test_the_sdks_automatic_function_calling_runs_the_python_function(
        genai_client: genai.Client) -> None:
    seen: list[str] = []

    def get_weather(city: str) -> dict[str, object]:
        """Current weather in a city."""
        seen.append(city)
        return {"city": city, "temp_c": 21}

    response = genai_client.models.generate_content(
        model=FLASH, contents="Weather in Rome?",
        config=types.GenerateContentConfig(tools=[get_weather]))

    assert len(seen) == 1 and response.text
    assert response.automatic_function_calling_history[1].parts[0].function_call.name == \
        "get_weather"


def test_function_calling_modes_none_and_any(genai_client: genai.Client) -> None:
    def mode(name: str, allowed: list[str] | None = None) -> types.ToolConfig:
        return types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
            mode=name, allowed_function_names=allowed))

    never = genai_client.models.generate_content(
        model=FLASH, contents="Weather in Rome?", config=_config(tool_config=mode("NONE")))
    forced = genai_client.models.generate_content(
        model=FLASH, contents="Weather in Rome?",
        config=_config(tool_config=mode("ANY", ["get_time"])))

    assert never.text and not never.function_calls
    assert forced.function_calls[0].name == "get_time"


def test_thought_signatures_come_with_gemini_3_answers_only(
        genai_client: genai.Client) -> None:
    gemini3 = genai_client.models.generate_content(model=FLASH, contents="Explain tides.")
    gemini25 = genai_client.models.generate_content(model=LITE, contents="Explain tides.")

    assert gemini3.candidates[0].content.parts[-1].thought_signature
    assert not any(p.thought_signature for p in gemini25.candidates[0].content.parts)


def test_interactions_tool_loop_requires_action_then_completes(
        genai_client: genai.Client) -> None:
    tool = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}
    first = genai_client.interactions.create(model=FLASH, input="Weather in Rome?",
                                             tools=[tool])
    call = next(step for step in first.steps if step.type == "function_call")
    assert first.status == "requires_action"
    assert call.name == "get_weather" and isinstance(call.arguments["city"], str)

    second = genai_client.interactions.create(
        model=FLASH, tools=[tool], previous_interaction_id=first.id,
        input=[{"type": "function_result", "call_id": call.id, "name": call.name,
                "result": "21 C, clear"}])
    assert second.status == "completed" and second.output_text


def test_streamed_answers_carry_function_calls_and_signatures(
        genai_client: genai.Client) -> None:
    chunks = list(genai_client.models.generate_content_stream(
        model=FLASH, contents="Weather in Rome?", config=_config()))
    calls = [call for chunk in chunks for call in chunk.function_calls or []]
    assert [call.name for call in calls] == ["get_weather"]

    text_chunks = list(genai_client.models.generate_content_stream(
        model=FLASH, contents="Explain tides."))
    parts = [p for c in text_chunks for p in c.candidates[0].content.parts or []]
    assert sum(1 for p in parts if p.thought_signature) == 1
    assert "".join(c.text or "" for c in text_chunks) == genai_client.models.generate_content(
        model=FLASH, contents="Explain tides.").text
