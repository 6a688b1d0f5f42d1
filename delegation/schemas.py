from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from core.schemas import StrictModel as _Strict


class AgentDelegate(_Strict):
    type: Literal["agent"]
    code: str = Field(min_length=1, max_length=64, examples=["VNPOST"])


class PersonDelegate(_Strict):
    type: Literal["person"]
    pid: str = Field(min_length=1, max_length=32, examples=["001099012345"])


Delegate = Annotated[AgentDelegate | PersonDelegate, Field(discriminator="type")]


class DelegationCreate(_Strict):
    delegate: Delegate
    procedures: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=50)
    valid_until: AwareDatetime
    valid_from: AwareDatetime | None = None
    max_uses: int = Field(default=1, examples=[1])
    note: str | None = Field(default=None, max_length=500)

    multiline_fields = frozenset({"note"})


class StatusRef(BaseModel):
    idx: int
    uri: str


class DelegationOut(BaseModel):
    id: str
    status: Literal[
        "pending", "active", "revoked", "renounced", "expired", "exhausted", "suspended"
    ]
    delegator: str
    delegate: dict[str, str]
    procedures: list[str]
    valid_from: datetime
    valid_until: datetime
    max_uses: int
    uses: int
    uses_left: int
    note: str | None
    token: str
    status_list: StatusRef
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None


class VerifyRequest(_Strict):
    token: str = Field(max_length=16_384)


class VerifyResult(BaseModel):
    valid: bool
    status: Literal[
        "active", "pending", "revoked", "renounced", "expired", "exhausted", "suspended", "invalid"
    ]
    reason: str
    claims: dict[str, Any] | None = None
