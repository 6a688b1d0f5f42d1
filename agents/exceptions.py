"""Agents errors.

    AgentNotFound       404 agent_not_found
    AgencyNotFound      404 agency_not_found
    AgentExists         409 agent_exists
    AgencyExists        409 agency_exists
    UnknownProcedure    422 unknown_procedure
"""

from core.errors import Conflict, NotFound, Unprocessable


class AgentNotFound(NotFound):
    code, title = "agent_not_found", "No such agent"


class AgencyNotFound(NotFound):
    code, title = "agency_not_found", "No such agency"


class AgentExists(Conflict):
    code, title = "agent_exists", "An agent with this code exists"


class AgencyExists(Conflict):
    code, title = "agency_exists", "An agency with this code exists"


class UnknownProcedure(Unprocessable):
    code, title = "unknown_procedure", "Not a procedure of the catalogue"
