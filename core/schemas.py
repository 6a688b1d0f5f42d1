"""The base of every request body: unknown fields refused, and no control characters in text."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from core.jsonshape import has_control_characters


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Fields of free text where a line break makes sense (a note, a purpose).
    multiline_fields: ClassVar[frozenset[str]] = frozenset()
    # Fields that carry arbitrary JSON of the caller's (a dossier): checked by their own rules.
    free_json_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_control_characters(self) -> Any:
        for name in type(self).model_fields:
            if name in self.free_json_fields:
                continue
            value = getattr(self, name)
            for text in value if isinstance(value, list | tuple) else (value,):
                if isinstance(text, str) and has_control_characters(
                    text, allow_line_breaks=name in self.multiline_fields
                ):
                    raise ValueError(
                        f"{name} contains a control character (such as NUL); remove it"
                    )
        return self
