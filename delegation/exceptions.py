"""Delegation errors.

InsufficientAssurance   403 insufficient_assurance   granting needs VNeID level 2
DelegationNotFound      404 delegation_not_found     also for delegations the caller may not see
InvalidGrant            422 unknown_agent | agent_suspended | unknown_procedure | invalid_delegate
                            | self_delegation | invalid_window | window_too_long | invalid_max_uses
WrongState              409 <current status>         accept/revoke/renounce not possible now
InvalidDelegation       422 invalid_delegation       token not genuine
NotDelegate             403 not_delegate             caller is not the token's delegate
ProcedureOutOfScope     403 procedure_out_of_scope
NotUsable               409 <status>                 pending, revoked, renounced, expired,
                                                     exhausted, suspended, not_yet_valid
"""

from core.errors import Conflict, Forbidden, NotFound, Unprocessable


class InsufficientAssurance(Forbidden):
    code, title = "insufficient_assurance", "VNeID level 2 required"


class DelegationNotFound(NotFound):
    code, title = "delegation_not_found", "No such delegation"


class InvalidGrant(Unprocessable):
    title = "The delegation cannot be granted"


class WrongState(Conflict):
    title = "Not possible in the delegation's current status"


class InvalidDelegation(Unprocessable):
    code, title = "invalid_delegation", "Not a genuine delegation token"


class NotDelegate(Forbidden):
    code, title = "not_delegate", "The caller is not the delegate of this delegation"


class ProcedureOutOfScope(Forbidden):
    code, title = "procedure_out_of_scope", "Procedure not covered by the delegation"


class NotUsable(Conflict):
    title = "The delegation cannot be used now"
