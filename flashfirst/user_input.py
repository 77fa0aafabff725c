"""The base of every model that reads what a user wrote (policy files, price and model
tables, flow parameters, manifest rows): a misspelt key is an error naming it, never a
setting silently left at its default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UserInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
