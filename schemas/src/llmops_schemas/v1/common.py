"""Types shared by several v1 payloads."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["Identifier", "Labels", "Name", "PromptRef", "ShortText", "StrictModel", "Tags"]

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")]
"""An id chosen by a client or a service: letters, digits and ``._:@/-``, at most 128 characters."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ShortText = Annotated[str, StringConstraints(max_length=1024)]
Tags = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=128)]], Field(max_length=64)]
Labels = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], ShortText], Field(max_length=64)
]
"""Free-form string metadata: at most 64 keys, keys up to 128 and values up to 1,024 characters."""


class StrictModel(BaseModel):
    """A nested part of a payload: frozen and strict like the payload itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PromptRef(StrictModel):
    """Which registered prompt version produced a call's messages."""

    name: Name
    version: int = Field(ge=1)
    label: Name | None = None
