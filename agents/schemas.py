from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator
from vietnam_provinces import ProvinceCode
from vietnam_provinces import Ward as AdministrativeUnit

from core.schemas import StrictModel as _Strict

ORG_CODE = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"
# National catalogue codes: "1.001612", or with a local suffix "1.004227.000.00.00.H26".
PROCEDURE_CODE = r"^[0-9]\.[0-9]{6}(\.[0-9A-Z]{2,3}){0,5}$"
WARD_CODE = r"^[0-9]{5}$"  # the 5-digit administrative unit code of the ward or commune
# Hanoi's 126 wards and communes (since 07/2025) by that code, named as people name them.
HANOI_WARDS = {
    f"{w.code.value:05d}": w.name for w in AdministrativeUnit.iter_by_province(ProvinceCode.P_01)
}


class AgentCreate(_Strict):
    code: str = Field(pattern=ORG_CODE, examples=["VNPOST"])
    name: str = Field(min_length=1, max_length=200, examples=["Vietnam Post"])
    kind: Literal["post_office", "retail", "other"]


class AgentOut(BaseModel):
    code: str
    name: str
    kind: str
    status: Literal["active", "suspended"]
    created_at: datetime


class CounterCreate(_Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Bưu điện Hà Đông"])
    ward_code: str = Field(pattern=WARD_CODE, examples=["09552"])

    @field_validator("ward_code")
    @classmethod
    def _in_hanoi(cls, code: str) -> str:
        if code not in HANOI_WARDS:
            raise ValueError("not the code of a ward or commune of Hanoi")
        return code


class CounterCreated(BaseModel):
    id: str
    agent: str
    name: str
    ward_code: str
    client_id: str
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class AgencyCreate(_Strict):
    code: str = Field(pattern=ORG_CODE, examples=["HN-TUPHAP"])
    name: str = Field(min_length=1, max_length=200)
    procedures: list[str] = Field(default_factory=list, max_length=500)


class AgencyCreated(BaseModel):
    code: str
    name: str
    procedures: list[str]
    client_id: str
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class ClientCreated(BaseModel):
    agency: str
    client_id: str
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class ProcedureOut(BaseModel):
    code: str
    name: str
    agency: str


class SubmissionCreate(_Strict):
    delegation_token: str = Field(min_length=1, max_length=16_384)
    procedure: str = Field(min_length=1, max_length=64, examples=["1.001612"])
    operator: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Staff id at the counter (agents only)",
    )
    dossier: Any = Field(
        description="Any JSON value: at most 1 MiB in canonical form, nested at most 32 levels,"
        " 20,000 members and items in all, strings of at most 262,144 characters"
    )

    free_json_fields = frozenset({"dossier"})


class SubmissionCreated(BaseModel):
    id: str
    status: Literal["received", "completed"]
    receipt: str
    agency: str


class SubmissionOut(BaseModel):
    id: str
    status: Literal["received", "completed"]
    delegation: str
    procedure: str
    agency: str
    delegator: str
    delegate: dict[str, str]
    operator: str | None
    act: dict[str, Any] | None = None
    dossier: Any
    dossier_sha256: str
    receipt: str
    created_at: datetime
    completed_at: datetime | None


class UseOut(BaseModel):
    submission: str
    procedure: str
    agency: str
    delegate: dict[str, str]
    operator: str | None
    act: dict[str, Any] | None = None
    status: Literal["received", "completed"]
    dossier_sha256: str
    created_at: datetime


class RequestCreate(_Strict):
    procedures: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=50)
    max_uses: int = Field(default=1, examples=[1])
    valid_until: AwareDatetime
    purpose: str = Field(min_length=1, max_length=500, description="Shown to the citizen")
    delegator_pid: str | None = Field(
        default=None, max_length=12, description="Only this citizen may approve"
    )

    multiline_fields = frozenset({"purpose"})


class RequestOut(BaseModel):
    id: str
    status: Literal["pending", "approved", "declined", "expired", "cancelled"]
    code: str
    approve_url: str
    agent: str
    counter: str
    staff_code: str | None
    procedures: list[str]
    max_uses: int
    valid_until: datetime
    purpose: str
    delegator_pid: str | None
    created_at: datetime
    expires_at: datetime
    delegation_id: str | None = None
    delegation_token: str | None = None


class Named(BaseModel):
    code: str
    name: str


class CounterShown(BaseModel):
    id: str
    name: str
    ward_code: str


class RequestForCitizen(BaseModel):
    """What the citizen sees before approving: who asks, then what exactly."""

    code: str
    status: Literal["pending", "approved", "declined", "expired", "cancelled"]
    agent: Named
    counter: CounterShown
    staff_code: str | None
    procedures: list[Named]
    max_uses: int
    valid_until: datetime
    purpose: str
    expires_at: datetime


STAFF_CODE = r"^[A-Z0-9][A-Z0-9_.-]{0,31}$"


class AgencyStaffCreate(_Strict):
    pid: str = Field(pattern=r"^[0-9]{12}$", examples=["001099012345"])
    name: str = Field(min_length=1, max_length=200)
    staff_code: str = Field(pattern=STAFF_CODE, examples=["NV-0042"])


class CounterStaffCreate(AgencyStaffCreate):
    counters: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=50)


class StaffOut(BaseModel):
    id: str
    kind: Literal["agent", "agency"]
    owner: str
    pid: str
    name: str
    staff_code: str
    counters: list[str]
    active: bool
