"""asn1crypto 1.5.1 (its latest release) re-encodes structures at a cost that doubles with each
level of nesting, in two steps: it takes any header whose last byte is 0x80 for an indefinite
length (a definite length of 384 or 5248 bytes ends so too: wbond/asn1crypto#249) and re-encodes
that value, and re-encoding leaves each Sequence/Set marked as changed, so every level encodes
its children again (fixed upstream in a767d2d, July 2026, not released). About 1 signature in
8 with a timestamp had such a length somewhere and spent minutes in `dump()`, past the signing
job's deadline. This is that upstream fix, applied on import; drop it once a release has it."""

from __future__ import annotations

from typing import Any

from asn1crypto import core


def _leave_unchanged_after_encoding(cls: type) -> None:
    encode = cls.__dict__["_set_contents"]

    def _set_contents(self: Any, force: bool = False) -> None:
        encode(self, force)
        self._mutated = False

    cls._set_contents = _set_contents  # type: ignore[attr-defined]


if not getattr(core, "_uyquyen_backport", False):
    for _cls in (core.Sequence, core.SequenceOf, core.Set, core.SetOf):
        _leave_unchanged_after_encoding(_cls)
    core._uyquyen_backport = True  # type: ignore[attr-defined]
