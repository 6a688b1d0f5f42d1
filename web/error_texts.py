"""What a person reads for each refusal a page can meet, by its stable `code` (msgids of
web/translations): a title and what to do next. The API keeps its English problem details; a page
shows these instead, in the person's language (tests/web/test_translations.py enumerates every
code the service can refuse with and fails on one without a text)."""

ERROR_TEXTS = {
    "invalid_seq": ("No such entry in the log", ""),
    "invalid_tree_size": ("No signed log of that size", ""),
    "no_checkpoint": ("The log is still empty", ""),
    "active": (
        "Already in force",
        "Nothing to do: it is already active.",
    ),
    "admin_only": (
        "For administrators only",
        "This action is for the service's administrators.",
    ),
    "agency_exists": (
        "This agency is already registered",
        "An agency with this code exists.",
    ),
    "agency_not_found": (
        "No such agency",
        "Check the agency's code.",
    ),
    "agent_exists": (
        "This agent is already registered",
        "An agent with this code exists.",
    ),
    "agent_not_found": (
        "No such agent",
        "Check the agent's code.",
    ),
    "agent_suspended": (
        "This agent is suspended",
        "Its counters cannot act until it is reinstated.",
    ),
    "already_completed": (
        "This dossier already has its result",
        "The agency has answered it; the signed result can be downloaded.",
    ),
    "approved": (
        "Already approved",
        "This request was approved.",
    ),
    "bad_request": (
        "The request could not be understood",
        "Go back and try again.",
    ),
    "bad_timestamp_request": (
        "Not a timestamp request",
        "The file is not an RFC 3161 timestamp request.",
    ),
    "cancelled": (
        "Withdrawn",
        "The counter withdrew this request.",
    ),
    "conflict": (
        "Not possible right now",
        "Its state has changed meanwhile. Reload the page.",
    ),
    "counter_not_found": (
        "No such counter",
        "Check the counter you chose.",
    ),
    "crl_not_found": (
        "No such revocation list",
        "",
    ),
    "damaged_pdf": (
        "The PDF cannot be read",
        "The file is damaged. Ask for the document again.",
    ),
    "declined": (
        "Already declined",
        "This request was declined.",
    ),
    "delegation_not_found": (
        "No such authorization",
        "It does not exist, or it is not yours to see.",
    ),
    "document_workers_busy": (
        "The service is busy with other documents",
        "Try again in a moment.",
    ),
    "dossier_too_complex": (
        "The dossier is too complex",
        "Make it simpler: fewer fields, less nesting.",
    ),
    "dossier_too_large": (
        "The dossier is too large",
        "A dossier may be at most 1 MiB.",
    ),
    "empty_file": (
        "The file is empty",
        "Choose the document again.",
    ),
    "exhausted": (
        "This authorization is used up",
        "Every use it allowed has been made. The citizen can grant a new one.",
    ),
    "expired": (
        "This has expired",
        "Its time is over. Ask for a new one.",
    ),
    "file_required": (
        "No file was chosen",
        "Choose the PDF to upload.",
    ),
    "file_too_large": (
        "The file is too large",
        "A document may be at most 20 MiB.",
    ),
    "forbidden": (
        "Not allowed",
        "You may not do this.",
    ),
    "idempotency_key_in_progress": (
        "This dossier is being filed",
        "Wait a moment, then reload.",
    ),
    "idempotency_key_required": (
        "The form is incomplete",
        "Open the form again from the counter's page.",
    ),
    "idempotency_key_reused": (
        "This dossier was already filed",
        "It was filed with other contents. Open the receipt, or start a new dossier.",
    ),
    "insufficient_assurance": (
        "A level-2 VNeID login is needed",
        "Log in again with VNeID at level 2.",
    ),
    "internal_error": (
        "Something went wrong on our side",
        "It has been recorded. Try again in a moment.",
    ),
    "invalid_delegate": (
        "Whom to authorize is not valid",
        "Choose an agent, or give a person's 12-digit identification number.",
    ),
    "invalid_delegation": (
        "Not a genuine authorization",
        "The code does not come from this service, or it was altered.",
    ),
    "invalid_delegator": (
        "The citizen's number is not valid",
        "A personal identification number has 12 digits.",
    ),
    "invalid_dossier": (
        "The dossier is not valid",
        "Check its fields and try again.",
    ),
    "invalid_max_uses": (
        "The number of uses is not valid",
        "Give a whole number from 1.",
    ),
    "invalid_pid": (
        "The identification number is not valid",
        "A personal identification number has 12 digits.",
    ),
    "invalid_staff": (
        "The staff member cannot be registered",
        "Check the number, the name and the counters.",
    ),
    "invalid_window": (
        "The dates are not valid",
        "The last day must come after the first, and not in the past.",
    ),
    "login_not_fresh": (
        "Log in with VNeID again to approve",
        "Approving needs a login of the last 5 minutes: someone else may be holding this phone.",
    ),
    "no_dev_pki": (
        "Not available here",
        "",
    ),
    "no_signature": (
        "The PDF has no signature",
        "Only a digitally signed document can be checked.",
    ),
    "no_signing_key": (
        "The agency cannot sign now",
        "Its signing certificate is missing or revoked. Contact the administrator.",
    ),
    "not_a_pdf": (
        "The file is not a PDF",
        "Choose a PDF document.",
    ),
    "not_delegate": (
        "You are not the one authorized",
        "This authorization was given to someone else.",
    ),
    "not_for_this_citizen": (
        "This request is for another citizen",
        "Only the citizen it names can answer it.",
    ),
    "method_not_allowed": (
        "This page cannot be opened this way",
        "Go back and use the page's own buttons.",
    ),
    "not_found": (
        "Not found",
        "The page or item does not exist.",
    ),
    "not_staff_here": (
        "Not staff there",
        "You are not active staff of that counter or agency.",
    ),
    "not_yet_valid": (
        "Not valid yet",
        "Its time has not begun.",
    ),
    "operator_mismatch": (
        "The clerk's code does not match",
        "The dossier names another clerk than the one logged in.",
    ),
    "operator_not_allowed": (
        "Only a counter names its clerk",
        "",
    ),
    "operator_required": (
        "The clerk's code is needed",
        "A counter must say who files the dossier.",
    ),
    "payload_too_large": (
        "Too large",
        "What was sent is larger than the service accepts.",
    ),
    "pdf_too_complex": (
        "The PDF is too complex to check",
        "Save it again as a simpler PDF, or ask for the document again.",
    ),
    "pending": (
        "Waiting for acceptance",
        "The person authorized has not accepted yet.",
    ),
    "procedure_out_of_scope": (
        "This procedure is not authorized",
        "The authorization does not cover this procedure.",
    ),
    "renounced": (
        "This authorization was renounced",
        "The person authorized gave it up.",
    ),
    "request_not_found": (
        "No such request",
        "Check the code as the counter shows it, and try again.",
    ),
    "result_not_ready": (
        "No result yet",
        "The agency has not answered this dossier yet.",
    ),
    "revoked": (
        "This authorization was revoked",
        "The citizen withdrew it. Nothing can be filed under it.",
    ),
    "self_delegation": (
        "You cannot authorize yourself",
        "Choose an agent or another person.",
    ),
    "service_unavailable": (
        "The service is busy",
        "Try again in a moment.",
    ),
    "staff_exists": (
        "Already registered",
        "This staff code or this person is already registered there.",
    ),
    "staff_login_level": (
        "Staff need a level-2 VNeID login",
        "Log in again with VNeID at level 2.",
    ),
    "staff_not_found": (
        "No such staff member",
        "",
    ),
    "status_list_not_found": (
        "No such status list",
        "",
    ),
    "submission_not_found": (
        "No such dossier",
        "This dossier does not exist, or it is not yours to see.",
    ),
    "suspended": (
        "This authorization is suspended",
        "The agent it was given to is suspended.",
    ),
    "too_many_attempts": (
        "Too many failed attempts",
        "Wait a few minutes, then try again.",
    ),
    "too_many_concurrent_documents": (
        "One document at a time",
        "Wait for the previous document to finish, then try again.",
    ),
    "too_many_lookups": (
        "Too many codes looked up",
        "Wait a minute, then type the code again.",
    ),
    "too_many_open_requests": (
        "Too many open requests at this counter",
        "Cancel one, or wait for them to end.",
    ),
    "too_many_requests": (
        "Too many requests",
        "Wait a moment, then try again.",
    ),
    "too_many_requests_made": (
        "Too many requests made lately",
        "This counter, or this citizen, has had many requests in the last hour. Try again later.",
    ),
    "unauthorized": (
        "Please log in",
        "Your session has ended, or you are not logged in.",
    ),
    "unknown_agent": (
        "No such agent",
        "Choose an agent from the list.",
    ),
    "unknown_counter": (
        "No such counter",
        "Choose counters of this agent.",
    ),
    "unknown_procedure": (
        "Not a procedure of the catalogue",
        "Choose procedures from the catalogue.",
    ),
    "unprocessable": (
        "The request cannot be carried out",
        "Check what you entered.",
    ),
    "window_too_long": (
        "The period is too long",
        "An authorization may last at most 365 days.",
    ),
    "wrong_caller_kind": (
        "Not for your role",
        "This page or action is for another kind of user.",
    ),
}


# A form field that was refused, named as the form's label names it (msgids), and why, by the
# validation error's type: "Thủ tục: hãy chọn ít nhất một".
FIELD_TEXTS = {
    "delegate": "Who may act for you",
    "pid": "ID number (12 digits)",
    "code": "Agent",
    "procedures": "Procedures",
    "procedure": "Procedure",
    "valid_until": "Valid until",
    "max_uses": "Uses",
    "purpose": "Why",
    "dossier": "The dossier",
    "delegator_pid": "The citizen's ID number",
    "form": "The form",
}
PROBLEM_TEXTS = {
    "missing": "must be filled in",
    "string_too_short": "must be filled in",
    "too_short": "choose at least one",
    "string_too_long": "is too long",
    "too_long": "too many chosen",
    "string_pattern_mismatch": "is not in the right form",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
    "int_parsing": "must be a whole number",
    "date": "must be a date",
    "literal_error": "choose one of the options",
    "value_error": "is not valid",
    "invalid": "is not valid",
}
