"""The messages of a chat request and their content parts, as the gateway validates and forwards them.

Parts of a known type (text, image, refusal) are models that keep every other key they carry, so they are
forwarded as sent; a part of another type (``input_audio``, ``file``...) becomes :class:`OtherPart`, which the
feature checks refuse naming it. A base64 image is decoded at most once, for its size and SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, StringConstraints, Tag

__all__ = ["ChatMessageIn", "ContentPart", "ImagePart", "InlineMedia", "OtherPart", "RefusalPart", "TextPart"]

PART_TYPES = frozenset({"text", "image_url", "refusal"})
ROLE_AND_CONTENT = frozenset({"role", "content"})


class TextPart(BaseModel):
    """A text content part; other keys (``prompt_cache_breakpoint``, ...) are kept and forwarded."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: str


class InlineMedia(NamedTuple):
    media_type: str
    size_bytes: int
    sha256: str


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="An http(s) URL, or a base64 `data:image/...` URL (bounded by INFERENCE_MAX_IMAGE_BYTES)"
    )
    detail: str | None = None


class ImagePart(BaseModel):
    """An image content part (URL or base64 data URL), forwarded as sent."""

    model_config = ConfigDict(extra="allow")

    type: Literal["image_url"]
    image_url: ImageUrl
    _inline: InlineMedia | None = PrivateAttr(default=None)

    def inline(self) -> InlineMedia | None:
        """A base64 image's media type, size and SHA-256 (decoded once, the bytes never kept); None for a URL.
        Raises ValueError when the data is not base64."""
        if self._inline is None:
            header, comma, payload = self.image_url.url.partition(",")
            if not (comma and header.startswith("data:") and header.endswith(";base64")):
                return None
            try:
                data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
            except binascii.Error:
                raise ValueError("the image is not valid base64") from None
            self._inline = InlineMedia(header[5:-7].lower(), len(data), hashlib.sha256(data).hexdigest())
        return self._inline


class RefusalPart(BaseModel):
    """An assistant message's refusal part (sent back in a conversation)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["refusal"]
    refusal: str


class OtherPart(BaseModel):
    """A content part of a type the gateway does not take (``input_audio``, ``file``...): refused with a 400
    naming it (:func:`~llmops_inference.features.check_chat`), never forwarded."""

    model_config = ConfigDict(extra="allow")

    type: Any = None


def _part_kind(part: Any) -> str:
    kind = part.get("type") if isinstance(part, dict) else getattr(part, "type", None)
    return kind if isinstance(kind, str) and kind in PART_TYPES else "other"


ContentPart = Annotated[
    Annotated[TextPart, Tag("text")]
    | Annotated[ImagePart, Tag("image_url")]
    | Annotated[RefusalPart, Tag("refusal")]
    | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_kind),
]
"""Only parts of list content pay for the discriminator; a string content pays nothing."""
ToolCall = Annotated[dict[str, Any], Field(description="`{id, type: function, function: {name, arguments}}`")]


class ChatMessageIn(BaseModel):
    """One message of a chat request; keys the gateway does not read (``refusal``, ``audio``...) are forwarded."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | Annotated[list[ContentPart], Field(max_length=256)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    tool_call_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=128)] | None = None

    def wire(self) -> dict[str, Any]:
        """The message as the caller sent it (every key it carried, explicit nulls too), for the upstream."""
        if type(self.content) is str and self.model_fields_set <= ROLE_AND_CONTENT:
            return {"role": self.role, "content": self.content}  # the common message, without pydantic's dump
        return self.model_dump(exclude_unset=True)

    def text(self) -> str:
        """The message's text, with text parts joined (images and refusals are not text)."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content if isinstance(part, TextPart))
        return self.content or ""
