"""What ``flashfirst models`` shows: the catalogue against what the backend serves today
(its ``models.list``), so a stale catalogue is noticed: models served that it lacks,
catalogue rows no longer listed, and rows whose successor Google has named."""

from __future__ import annotations

from datetime import date

from google import genai
from pydantic import BaseModel

from flashfirst.gemini.catalogue import Catalogue

GENERATE = "generateContent"


class NotListed(BaseModel):
    model: str
    note: str


class Successor(BaseModel):
    model: str
    successor: str
    named_on: date | None


class ModelsListing(BaseModel):
    day: date
    catalogue_version: str
    listed: int
    not_in_catalogue: list[str]
    not_listed: list[NotListed]
    successors: list[Successor]

    def text(self) -> str:
        lines = [f"The backend lists {self.listed} models that generate content; the "
                 f"catalogue (version {self.catalogue_version}) on {self.day}:"]
        lines.append("Served, not in the catalogue (add a row, and a price row, before "
                     "using one):" if self.not_in_catalogue else
                     "Every model served is in the catalogue.")
        lines += [f"  {m}" for m in self.not_in_catalogue]
        lines.append("In the catalogue, no longer listed:" if self.not_listed else
                     "Every catalogue model is listed.")
        lines += [f"  {n.model}: {n.note}" for n in self.not_listed]
        if self.successors:
            lines.append("Successors named by Google (the old id is still served):")
            lines += [f"  {s.model} → {s.successor}"
                      + (f" (named {s.named_on})" if s.named_on else "")
                      for s in self.successors]
        return "\n".join(lines)


def served_models(client: genai.Client) -> list[str]:
    """Ids of the models the backend lists that take generateContent (bare ids: Vertex
    names them ``publishers/google/models/<id>``)."""
    return [str(m.name).rsplit("models/", 1)[-1] for m in client.models.list()
            if m.name and (not m.supported_actions or GENERATE in m.supported_actions)]


def models_listing(catalogue: Catalogue, served: list[str], day: date) -> ModelsListing:
    known, listed = {m.id for m in catalogue.models}, set(served)
    not_listed = []
    for m in catalogue.models:
        if m.id in listed:
            continue
        note = (f"shut down on {m.shutdown} (served by {catalogue.served_id(m.id, day)})"
                if m.retired_on(day) else "re-check the deprecations page: the row may be "
                "stale")
        not_listed.append(NotListed(model=m.id, note=note))
    return ModelsListing(
        day=day, catalogue_version=catalogue.version, listed=len(listed),
        not_in_catalogue=sorted(listed - known), not_listed=not_listed,
        successors=[Successor(model=m.id, successor=m.successor, named_on=m.successor_named_on)
                    for m in catalogue.models if m.successor])
