"""API version ``v1alpha``, which preview notebooks select, is served like v1beta."""

from __future__ import annotations

from fixtures.emulator import client_for

from flashfirst.emulator import EmbeddedEmulator


def test_v1alpha_serves_generate_content_and_interactions(emulator: EmbeddedEmulator):
    with client_for(emulator.base_url, api_version="v1alpha") as client:
        generated = client.models.generate_content(model="gemini-3.8-flash", contents="Hi")
        interaction = client.interactions.create(model="gemini-3.8-flash", input="Hi")
        listed = list(client.models.list())

    assert generated.text and interaction.output_text == generated.text
    assert any(m.name == "models/gemini-3.8-flash" for m in listed)
