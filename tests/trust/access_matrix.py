"""Who may call what: every URL of the project, by role, as data to read and review.

Change this table in the same commit as the route or the rule it describes:
tests/trust/test_access_matrix.py fails when a route or method of the URL configuration has no
row here, when a row names a route that no longer exists, and when any row is not what the
API answers to a real token of each role.

API rows, one per route and method (routes by URL name, as `reverse()` knows them):

    none        a logged-in user with no role
    admin ...   clinic_admin, admissions, billing, clinician, prescriber, nurse

    A  allowed: the request passes the gate (any answer but 401, 403 and 404; a 400 or
       409 about the body or the record's state is the endpoint's own business)
    D  refused with 403 (the role may not use it at all)
    S  scoped to the patient's care team: on the team, or holding a break-the-glass grant,
       allowed; off the team a 404, so nothing confirms the patient exists (for a list: a
       200 that does not contain the patient's record)
    M  mine: own records only (calendar feeds); someone else's is a 404
    H  the role passes the gate but sees no patient's record: an empty list, a 404 for a
       record or a patient named in a body (clinical records asked for by the front office
       where the endpoint scopes rather than refuses)
    A D row's 403 may be a 404 for the off-team clinician when the patient is looked up
    before the role is checked: it says no more.

Without a token every API row is a 401, except the rows of PUBLIC_API, which carry their
own key (a signed or single-use token in the URL) and are listed with what protects them.

`audit` is what a successful call writes to the audit log for the patient (DESIGN.md,
"Audit": every read and write of patient data): "read", "list", "export" for reads, the
service's action for writes; None when the route touches no patient data. A referral is a
person who is not a patient yet: its events name no patient until it is converted.
tests/trust/test_audit_completeness.py walks every row with an audit action.
"""

from __future__ import annotations

from typing import NamedTuple

A, D, S, H, M = "A", "D", "S", "H", "M"

ROLE_COLUMNS = ("none", "clinic_admin", "admissions", "billing", "clinician", "prescriber", "nurse")


class Row(NamedTuple):
    name: str
    method: str
    none: str
    clinic_admin: str
    admissions: str
    billing: str
    clinician: str
    prescriber: str
    nurse: str
    audit: str | None


# fmt: off
ROWS = [Row(*row) for row in [
    # name                              method   none adm  desk bill clin presc nurse  audit
    # --- accounts: any logged-in user, their own token --------------------------------------------
    ("auth-logout",                     "POST",  A,   A,   A,   A,   A,   A,   A,    None),
    ("auth-logout-all",                 "POST",  A,   A,   A,   A,   A,   A,   A,    None),
    ("auth-me",                         "GET",   A,   A,   A,   A,   A,   A,   A,    None),
    # --- reference data: any staff role ---------------------------------------------------------
    ("location-list",                   "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("location-detail",                 "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("room-list",                       "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("room-detail",                     "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("staff-list",                      "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("staff-detail",                    "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("level-of-care-list",              "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("level-of-care-detail",            "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("session-type-list",               "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("session-type-detail",             "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("medication-list",                 "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("medication-detail",               "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    # --- patients: demographics for the front office, the care team for clinical staff ----------
    ("patient-list",                    "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("patient-list",                    "POST",  D,   A,   A,   D,   D,   D,   D,    "create"),
    ("patient-detail",                  "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("patient-break-glass",             "POST",  D,   D,   D,   D,   A,   A,   A,    "break_glass"),
    ("care-team-member-list",           "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("care-team-member-list",           "POST",  D,   A,   A,   D,   D,   D,   D,    "create"),
    ("care-team-member-detail",         "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("care-team-member-end",            "POST",  D,   A,   A,   D,   D,   D,   D,    "update"),
    ("episode-list",                    "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("episode-list",                    "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("episode-detail",                  "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("episode-transitions",             "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("episode-discharge",               "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("consent-list",                    "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("consent-list",                    "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("consent-detail",                  "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("consent-revoke",                  "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("disclosure-list",                 "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("disclosure-list",                 "POST",  D,   A,   A,   A,   S,   S,   S,    "disclose"),
    ("disclosure-detail",               "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("disclosure-accounting",           "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("referral-list",                   "GET",   D,   A,   A,   D,   D,   D,   D,    "list"),
    ("referral-list",                   "POST",  D,   A,   A,   D,   D,   D,   D,    "create"),
    ("referral-detail",                 "GET",   D,   A,   A,   D,   D,   D,   D,    "read"),
    ("referral-convert",                "POST",  D,   A,   A,   D,   D,   D,   D,    "create"),
    ("intake-assessment-list",          "GET",   D,   H,   H,   H,   S,   S,   S,    "list"),
    ("intake-assessment-list",          "POST",  D,   H,   H,   H,   S,   S,   S,    "create"),
    ("intake-assessment-detail",        "GET",   D,   H,   H,   H,   S,   S,   S,    "read"),
    ("intake-assessment-decision",      "POST",  D,   H,   H,   H,   S,   S,   D,    "update"),
    ("measure-list",                    "GET",   D,   H,   H,   H,   S,   S,   S,    "list"),
    ("measure-list",                    "POST",  D,   H,   H,   H,   S,   S,   S,    "create"),
    ("measure-detail",                  "GET",   D,   H,   H,   H,   S,   S,   S,    "read"),
    # --- scheduling: front-office data too; clinical staff see their care teams' patients -------
    ("track-list",                      "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("track-list",                      "POST",  D,   A,   D,   D,   D,   D,   D,    None),
    ("track-detail",                    "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("track-detail",                    "PUT",   D,   A,   D,   D,   D,   D,   D,    None),
    ("session-list",                    "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("session-list",                    "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("session-detail",                  "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("session-reschedule",              "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("session-cancel",                  "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("booking-list",                    "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("booking-list",                    "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("booking-detail",                  "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("booking-cancel",                  "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("booking-attendance",              "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("booking-reminders",               "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("enrollment-list",                 "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("enrollment-list",                 "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("enrollment-detail",               "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("enrollment-end",                  "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("level-change-review-list",        "GET",   D,   H,   H,   H,   S,   S,   S,    "list"),
    ("level-change-review-detail",      "GET",   D,   H,   H,   H,   S,   S,   S,    "read"),
    ("level-change-review-confirm",     "POST",  D,   H,   H,   H,   S,   S,   D,    "update"),
    ("level-change-review-dismiss",     "POST",  D,   H,   H,   H,   S,   S,   D,    "update"),
    ("program-hours-list",              "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("staff-task-list",                 "GET",   D,   A,   A,   D,   S,   S,   S,    "list"),
    ("staff-task-detail",               "GET",   D,   A,   A,   D,   S,   S,   S,    "read"),
    ("staff-task-done",                 "POST",  D,   A,   A,   D,   S,   S,   S,    "update"),
    ("opt-out-list",                    "GET",   D,   A,   A,   D,   S,   S,   S,    "list"),
    ("opt-out-list",                    "POST",  D,   A,   A,   D,   S,   S,   S,    "create"),
    ("reminder-summary",                "GET",   D,   A,   A,   D,   A,   A,   A,    None),
    ("calendar-feed-token-list",        "GET",   D,   D,   D,   D,   A,   A,   A,    None),
    ("calendar-feed-token-list",        "POST",  D,   D,   D,   D,   A,   A,   A,    None),
    ("calendar-feed-token-detail",      "GET",   D,   D,   D,   D,   M,   M,   M,    None),
    ("calendar-feed-token-revoke",      "POST",  D,   D,   D,   D,   M,   M,   M,    None),
    # --- tapers: clinical records, the care team only -------------------------------------------
    ("prescriber-list",                 "GET",   D,   D,   D,   D,   A,   A,   A,    None),
    ("prescriber-list",                 "POST",  D,   D,   D,   D,   A,   A,   A,    None),
    ("prescriber-detail",               "GET",   D,   D,   D,   D,   A,   A,   A,    None),
    ("prescriber-detail",               "PATCH", D,   D,   D,   D,   A,   A,   A,    None),
    ("prescription-list",               "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("prescription-list",               "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("prescription-detail",             "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("prescription-detail",             "PATCH", D,   D,   D,   D,   S,   S,   S,    "update"),
    ("prescription-entered-in-error",   "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("pdmp-import-list",                "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("pdmp-import-list",                "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("pdmp-import-detail",              "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("pdmp-check-list",                 "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("pdmp-check-list",                 "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("pdmp-check-detail",               "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("risk-flag-list",                  "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("risk-flag-detail",                "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("risk-flag-acknowledge",           "POST",  D,   D,   D,   D,   S,   S,   D,    "update"),
    ("taper-plan-list",                 "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("taper-plan-list",                 "POST",  D,   D,   D,   D,   D,   S,   D,    "create"),
    ("taper-plan-preview",              "POST",  D,   D,   D,   D,   A,   A,   A,    None),
    ("taper-plan-detail",               "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("taper-plan-versions",             "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("taper-plan-versions",             "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-steps",                "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("taper-plan-steps",                "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-approve",              "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-activate",             "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-hold",                 "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("taper-plan-resume",               "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-stop",                 "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-complete",             "POST",  D,   D,   D,   D,   D,   S,   D,    "update"),
    ("taper-plan-check-links",          "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("withdrawal-check-list",           "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("withdrawal-check-list",           "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("withdrawal-check-detail",         "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("prescriber-of-record-list",       "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("prescriber-of-record-list",       "POST",  D,   D,   D,   D,   S,   S,   D,    "create"),
    ("prescriber-of-record-detail",     "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("communication-list",              "GET",   D,   D,   D,   D,   S,   S,   S,    "list"),
    ("communication-list",              "POST",  D,   D,   D,   D,   S,   S,   S,    "create"),
    ("communication-detail",            "GET",   D,   D,   D,   D,   S,   S,   S,    "read"),
    ("communication-send",              "POST",  D,   D,   D,   D,   S,   S,   S,    "disclose"),
    ("communication-sent",              "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("communication-record-response",   "POST",  D,   D,   D,   D,   S,   S,   S,    "update"),
    ("communication-letter",            "GET",   D,   D,   D,   D,   S,   S,   S,    "export"),
    # --- insurance: front-office records; clinical staff read their care teams' -----------------
    ("payer-list",                      "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("payer-list",                      "POST",  D,   A,   A,   A,   D,   D,   D,    None),
    ("payer-detail",                    "GET",   D,   A,   A,   A,   A,   A,   A,    None),
    ("payer-detail",                    "PATCH", D,   A,   A,   A,   D,   D,   D,    None),
    ("coverage-list",                   "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("coverage-list",                   "POST",  D,   A,   A,   A,   D,   D,   D,    "create"),
    ("coverage-detail",                 "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("coverage-detail",                 "PATCH", D,   A,   A,   A,   D,   D,   D,    "update"),
    ("eligibility-check-list",          "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("eligibility-check-list",          "POST",  D,   A,   A,   A,   D,   D,   D,    "create"),
    ("eligibility-check-detail",        "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("eligibility-check-manual",        "POST",  D,   A,   A,   A,   D,   D,   D,    "update"),
    ("eligibility-check-record-response", "POST", D,  A,   A,   A,   D,   D,   D,    "update"),
    ("eligibility-check-raw",           "GET",   D,   A,   A,   A,   S,   S,   S,    "export"),
    ("authorization-list",              "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("authorization-list",              "POST",  D,   A,   A,   A,   D,   D,   D,    "create"),
    ("authorization-detail",            "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("authorization-detail",            "PATCH", D,   A,   A,   A,   D,   D,   D,    "update"),
    ("authorization-reviews",           "POST",  D,   A,   A,   A,   D,   D,   D,    "create"),
    ("billing-alert-list",              "GET",   D,   A,   A,   A,   S,   S,   S,    "list"),
    ("billing-alert-detail",            "GET",   D,   A,   A,   A,   S,   S,   S,    "read"),
    ("billing-alert-resolve",           "POST",  D,   A,   A,   A,   D,   D,   D,    "update"),
    ("payment-plan-list",               "GET",   D,   A,   A,   A,   D,   D,   D,    "list"),
    ("payment-plan-list",               "POST",  D,   A,   A,   A,   D,   D,   D,    "create"),
    ("payment-plan-detail",             "GET",   D,   A,   A,   A,   D,   D,   D,    "read"),
    ("payment-plan-payments",           "POST",  D,   A,   A,   A,   D,   D,   D,    "update"),
]]
# fmt: on


# Routes whose records belong to someone who is not a patient yet (a referral until it is
# converted): audited, but their events name no patient.
NO_PATIENT_YET = frozenset({"referral-list", "referral-detail"})


class Public(NamedTuple):
    """A route that takes no API token, with what protects it instead."""

    name: str | None  # URL name; None for the catch-all
    route: str  # the route as the resolver prints it; a prefix when name is None (the admin, the catch-all)
    methods: tuple[str, ...]
    protection: str
    anonymous: int  # what a request without credentials gets (the test sends one)


PUBLIC = [
    Public("auth-token", "api/v1/auth/token/", ("POST",), "username and password; locked out after failures", 400),
    Public(
        "check-link",
        "api/v1/check-links/<str:token>/",
        ("GET", "POST"),
        "single-use, expiring token in the URL (hashed at rest), throttled per address; the check "
        "it records is audited (no actor: the patient)",
        404,
    ),
    Public(
        "calendar-feed",
        "api/v1/calendar/<str:token>.ics",
        ("GET",),
        "signed token in the URL, revocable by its owner, dead with their account or clinical role; "
        "the patients it names (initials) are audited as read by the owner",
        404,
    ),
    Public("healthz", "healthz", ("GET",), "public liveness probe; says only 'ok'", 200),
    Public("readyz", "readyz", ("GET",), "public readiness probe; names failing dependencies, no data", 200),
    Public(
        "twilio-inbound-sms", "webhooks/twilio/sms/", ("POST",), "Twilio request signature (X-Twilio-Signature)", 403
    ),
    Public(
        "twilio-status-callback",
        "webhooks/twilio/status/",
        ("POST",),
        "Twilio request signature (X-Twilio-Signature)",
        403,
    ),
    Public("schema", "api/schema/", ("GET",), "public: the OpenAPI description, no data", 200),
    Public("swagger-ui", "api/docs/", ("GET",), "public: the API docs page, no data", 200),
    Public(None, "^api(", ("GET",), "catch-all: a JSON 404 in the one error shape", 404),
    Public(
        None,
        "admin/",
        ("GET", "POST"),
        "Django admin: staff session login; each page under the model's permissions and the "
        "admin's own care-team scoping (tests/*/test_admin*.py)",
        302,
    ),
]
