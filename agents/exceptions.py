"""Agents errors.

AgentNotFound       404 agent_not_found
AgencyNotFound      404 agency_not_found
AgentExists         409 agent_exists
AgencyExists        409 agency_exists
UnknownProcedure    422 unknown_procedure
SubmissionNotFound  404 submission_not_found
IdempotencyKeyRequired 400 idempotency_key_required
IdempotencyKeyReused   422 idempotency_key_reused
InvalidDossier      422 invalid_dossier
DossierTooLarge     413 dossier_too_large
OperatorRequired    422 operator_required
OperatorNotAllowed  422 operator_not_allowed
RequestNotFound     404 request_not_found
RequestState        409 (code: the request's status: approved, declined, expired, cancelled)
NotForThisCitizen   403 not_for_this_citizen
LoginNotFresh       401 login_not_fresh
TooManyOpenRequests 429 too_many_open_requests
TooManyLookups      429 too_many_lookups
TooManyRequestsMade 429 too_many_requests_made
StaffNotFound       404 staff_not_found
StaffExists         409 staff_exists
InvalidStaff        422 (invalid_pid, unknown_counter)
OperatorMismatch    422 operator_mismatch
"""

from core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)


class AgentNotFound(NotFound):
    code, title = "agent_not_found", "No such agent"


class CounterNotFound(NotFound):
    code, title = "counter_not_found", "No such counter"


class AgencyNotFound(NotFound):
    code, title = "agency_not_found", "No such agency"


class AgentExists(Conflict):
    code, title = "agent_exists", "An agent with this code exists"


class AgencyExists(Conflict):
    code, title = "agency_exists", "An agency with this code exists"


class UnknownProcedure(Unprocessable):
    code, title = "unknown_procedure", "Not a procedure of the catalogue"


class SubmissionNotFound(NotFound):
    code, title = "submission_not_found", "No such submission"


class IdempotencyKeyRequired(BadRequest):
    code, title = "idempotency_key_required", "Idempotency-Key header required"


class IdempotencyKeyReused(Unprocessable):
    code, title = "idempotency_key_reused", "Idempotency-Key already used for another request"


class InvalidDossier(Unprocessable):
    code, title = "invalid_dossier", "The dossier is not valid I-JSON"


class DossierTooComplex(Unprocessable):
    code, title = "dossier_too_complex", "The dossier is nested too deep or too large"


class DossierTooLarge(PayloadTooLarge):
    code, title = "dossier_too_large", "Dossier larger than 1 MiB"


class OperatorRequired(Unprocessable):
    code, title = "operator_required", "A counter must name its operator"


class OperatorNotAllowed(Unprocessable):
    code, title = "operator_not_allowed", "Only agent counters name an operator"


class AlreadyCompleted(Conflict):
    code, title = "already_completed", "The submission already has its result"


class ResultNotReady(NotFound):
    code, title = "result_not_ready", "The submission has no result yet"


class RequestNotFound(NotFound):
    code, title = "request_not_found", "No such authorization request"


class RequestState(Conflict):
    code, title = "conflict", "The authorization request is no longer pending"


class NotForThisCitizen(Forbidden):
    code, title = "not_for_this_citizen", "The request is for another citizen"


class LoginNotFresh(Unauthorized):
    code, title = "login_not_fresh", "Log in with VNeID again to approve"


class TooManyOpenRequests(TooManyRequests):
    code, title = "too_many_open_requests", "Too many open requests at this counter"


class TooManyRequestsMade(TooManyRequests):
    code, title = "too_many_requests_made", "Too many authorization requests made lately"


class TooManyLookups(TooManyRequests):
    code, title = "too_many_lookups", "Too many request codes looked up"


class StaffNotFound(NotFound):
    code, title = "staff_not_found", "No such staff member"


class StaffExists(Conflict):
    code, title = "staff_exists", "Staff member already registered"


class InvalidStaff(Unprocessable):
    code, title = "invalid_staff", "Not a staff member this service can register"


class OperatorMismatch(Unprocessable):
    code, title = "operator_mismatch", "operator is not the logged-in staff member"


class ResultFileRequired(Unprocessable):
    code, title = "file_required", "No file in the upload"
