"""Settings, all read from the environment (see README "Settings").

One module for every environment: development, tests and production differ only in
their environment variables, never in code.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for developers; real deployments set variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# With DEBUG off the process refuses to start on a missing or placeholder key:
# sessions and password-reset tokens signed with a known key can be forged.
_DEV_SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105 - refused unless DEBUG
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and (
    not SECRET_KEY
    or SECRET_KEY == _DEV_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off. "
        'Generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(64))"'
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "clinic.apps.ClinicAdminConfig",  # django.contrib.admin, with the desk's start page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "phonenumber_field",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Our apps, in dependency order: a later app may import an earlier one, never the reverse.
    "clinic",
    "patients",
    "scheduling",
    "tapers",
    "insurance",
]

MIDDLEWARE = [
    "clinic.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware: marks request.user verified by their TOTP device.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clinic.security.AdminContentSecurityPolicyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a login refused for lockout into clinic.security.lockout_response.
    "axes.middleware.AxesMiddleware",
]

# The axes backend comes first: it refuses a locked-out username+address before any
# password is checked (so a correct password does not end a lockout early).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "clinic" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/clinic")}
# Reuse connections across requests; health checks drop a connection the server closed
# (a PostgreSQL restart) instead of failing the next request with it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# The token check, the week view and the patient list run as prepared statements
# (clinic/db.py); off for a pooler that cannot keep them (PgBouncer in transaction mode < 1.21).
# psycopg prepares only when the threshold is a number (0: at the first execution), and only
# clinic/db.py's server-side-binding statements: Django's own cursors bind client-side, as
# configured here (no server_side_binding), so their queries are never prepared.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 0 if DATABASE_PREPARED_STATEMENTS else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Staff read 42 CFR Part 2 records: 12 characters at least (NIST SP 800-63B asks for 8 and
# more where the stakes are higher), no common or all-digit passwords, nothing like the
# username or name. Applied by createsuperuser, changepassword and the admin's user forms.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The organisation's default zone; every location and patient carries its own IANA zone.
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve static files straight from the apps in development, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Work a request recorded while the broker was down (a held check's alert, a queued letter, a
# clearinghouse eligibility check) is enqueued again once it has been owed this long
# (clinic.queueing.requeue_owed_work, every 5 minutes).
REQUEUE_AFTER_MINUTES = env.int("REQUEUE_AFTER_MINUTES", default=15)

# Scheme and host that links in staff emails start with (https://clinic.example.org): the care
# team's withdrawal-check alerts, the PDMP recheck reminders. Empty: the link is a path only.
STAFF_LINK_BASE_URL = env.str("STAFF_LINK_BASE_URL", default="")

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
# Results are never read: tasks record their outcome in PostgreSQL.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task enqueued while Redis is down must not hang the request that enqueued it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
# Redis redelivers an unacknowledged task after this many seconds; it must exceed the
# longest task so a slow task is not run twice in parallel.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)

# --- API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.api.authentication.TokenAuthentication",
        # Lets a staff member logged in to the admin use the Swagger UI; enforces CSRF.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "clinic.api.parsers.SafeJSONParser",
        "clinic.api.parsers.FormParser",
        "clinic.api.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "clinic.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["clinic.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clinic.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

# Tokens are stored hashed, expire after API_TOKEN_TTL_HOURS without use (each use
# extends them) and are revoked by POST /api/v1/auth/logout/.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTO_REFRESH": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic backend API",
    "DESCRIPTION": (
        "JSON API for clinicians, prescribers and nurses of an outpatient addiction-treatment "
        "clinic. Obtain a token at POST /api/v1/auth/token/ and send it as "
        "`Authorization: Token <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # One name per choice set where a model field and an input field share it.
    "ENUM_NAME_OVERRIDES": {
        "DischargeReasonEnum": "patients.models.DischargeReason",
        "DisclosurePurposeEnum": "patients.models.DisclosurePurpose",
        "ReferralSourceEnum": "patients.models.ReferralSource",
        "BenzodiazepineSourceEnum": "patients.models.BenzodiazepineSource",
        "TopicEnum": "scheduling.models.Topic",
    },
}

# --- Security -----------------------------------------------------------------------
# On by default whenever DEBUG is off; each can be turned off for a deployment that
# terminates TLS elsewhere and says so.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and orchestrators probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Only adds the directive; a domain joins browsers' preload lists when its owner submits it.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent by SecurityMiddleware (Django's default, named here so the header is a decision).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Login: lockout (django-axes) and the admin's second factor (django-otp) ---------------
# Failed logins are counted per username *and* client address together, for the admin's
# login form and POST /api/v1/auth/token/ alike. Per username alone, anyone on the internet
# could lock the on-call prescriber out by typing their username wrong five times; per
# address alone, one nurse mistyping behind the clinic's shared NAT address would lock out
# the whole front desk. Spraying one common password over many usernames is what the pair
# does not stop; the password validators above refuse the common passwords it relies on.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# Hours a lockout lasts after the last failed attempt (a failure during it starts it again).
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1.0)
# A successful login clears the failures of that username from that address.
AXES_RESET_ON_SUCCESS = True
# The same client address the audit log records (NUM_PROXIES trusted proxies, X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "clinic.middleware.client_ip"
# The one JSON error shape under /api/, an admin page elsewhere; 429 with Retry-After.
AXES_LOCKOUT_CALLABLE = "clinic.security.lockout_response"
# Axes keeps the failed attempt's form fields; never the password, CSRF token or TOTP code.
AXES_SENSITIVE_PARAMETERS = ["csrfmiddlewaretoken", "otp_token"]
# Every failed login is kept (AccessFailureLog, the last 1000 per username), for log-in
# monitoring; lockout counters are reset, this log is not. Successful logins are not logged
# by axes: its access log would open an empty session for every API token login.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_DISABLE_ACCESS_LOG = True
# A staff user with a confirmed TOTP device always gives its code at the admin login;
# with this on, staff without one cannot log in to the admin at all.
ADMIN_REQUIRE_OTP = env.bool("ADMIN_REQUIRE_OTP", default=False)
# The issuer an authenticator app shows next to the code; neutral by default, as a phone's
# screen must not reveal addiction treatment.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Clinic")

# --- Outbound messages ----------------------------------------------------------------
# django-environ understands smtp://user:pass@host:587/?tls=True, consolemail://, filemail://...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Neutral by default: the sender must not reveal addiction treatment (42 CFR Part 2).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Appointments <appointments@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
SMS_BACKEND = env.str("SMS_BACKEND", default="clinic.messaging.ConsoleSmsBackend")
SMS_FROM_NUMBER = env.str("SMS_FROM_NUMBER", default="")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms.jsonl"))
# SMS_BACKEND=clinic.messaging.TwilioSmsBackend sends with these; it refuses to start without
# the SID, the token and a sender (SMS_FROM_NUMBER, or a Messaging Service that picks one).
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
# Where Twilio reports delivery (sent, delivered, failed); empty: no callbacks.
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
# Seconds to wait for Twilio (connect, and then for its answer) before calling it a passing fault.
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10)
# The public scheme and host Twilio calls our webhooks on (e.g. https://clinic.example.org),
# for checking their signatures behind a proxy; empty: the request's own URL.
TWILIO_WEBHOOK_BASE_URL = env.str("TWILIO_WEBHOOK_BASE_URL", default="")

# --- Clinic rules -------------------------------------------------------------------------
# Days ahead at which a location or staff licence or accreditation counts as expiring.
LICENCE_EXPIRY_WARNING_DAYS = env.int("LICENCE_EXPIRY_WARNING_DAYS", default=60)

# Minutes a break-the-glass grant opens a patient's clinical records to someone off the care team.
BREAK_GLASS_MINUTES = env.int("BREAK_GLASS_MINUTES", default=60)

# 42 CFR 2.25: the accounting of disclosures a patient may ask for covers the last 3 years.
DISCLOSURE_ACCOUNTING_YEARS = env.int("DISCLOSURE_ACCOUNTING_YEARS", default=3)

# How many days back an admission, level change or discharge may be recorded (with a reason).
BACKDATE_WINDOW_DAYS = env.int("BACKDATE_WINDOW_DAYS", default=7)

# Level-of-care proposal at intake (patients.placement). Defaults: 2025 Joint Clinical
# Practice Guideline on Benzodiazepine Tapering, Table 2 (../shared/reference/clinical.md 2.1):
# low <= 10, high > 15 mg diazepam-equivalent a day; withdrawal risk after >= 3 months of use
# on >= 4 days a week.
# An admission follows an intake assessment at most this many days old (clinic default:
# a month on, the answers no longer describe the patient well enough to place them).
INTAKE_VALID_DAYS = env.int("INTAKE_VALID_DAYS", default=30)
PLACEMENT_HIGH_DOSE_DZE_MG = env.float("PLACEMENT_HIGH_DOSE_DZE_MG", default=15)
PLACEMENT_LOW_DOSE_DZE_MG = env.float("PLACEMENT_LOW_DOSE_DZE_MG", default=10)
PLACEMENT_LONG_USE_MONTHS = env.int("PLACEMENT_LONG_USE_MONTHS", default=3)
PLACEMENT_FREQUENT_DAYS_PER_WEEK = env.int("PLACEMENT_FREQUENT_DAYS_PER_WEEK", default=4)

# --- Scheduling ----------------------------------------------------------------------
# How far ahead group tracks' sessions are generated (and kept generated by beat).
SCHEDULING_HORIZON_WEEKS = env.int("SCHEDULING_HORIZON_WEEKS", default=8)
# A cancellation this close to the start (hours) is flagged late.
LATE_CANCELLATION_HOURS = env.int("LATE_CANCELLATION_HOURS", default=24)
# Video join link, from the session id only (never patient data), e.g.
# "https://video.example.org/join/{session_id}". Empty: no link is shown.
VIDEO_JOIN_URL_TEMPLATE = env.str("VIDEO_JOIN_URL_TEMPLATE", default="")

# --- Tapers: prescription ledger, PDMP, risk flags (tapers.services.ledger) ----------------
# Risk flags on the ledger (tapers.risk.Thresholds), re-evaluated on every ledger change.
# Sources: ../shared/reference/clinical.md; "clinic default" where it gives no figure.
# How far back overlaps and early refills count: 3 months, the 2025 Joint Guideline's review
# interval (Rec 1 and 16, "at least every 3 months"); clinic default.
LEDGER_RISK_LOOKBACK_DAYS = env.int("LEDGER_RISK_LOOKBACK_DAYS", default=90)
# Days two benzodiazepine supplies from different prescribers must share (clinic default: any).
LEDGER_RISK_MIN_OVERLAP_DAYS = env.int("LEDGER_RISK_MIN_OVERLAP_DAYS", default=1)
# The multiple-provider ("doctor shopping") definition, by name from tapers.risk's published
# presets: delcher_5x5x90d (default, clinical.md 5.1 recommendation), katz_4x4x365d,
# schneberk_6x6x180d, massachusetts_dph_4x4x180d.
LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION = env.str(
    "LEDGER_RISK_MULTIPLE_PROVIDER_DEFINITION", default="delcher_5x5x90d"
)
# Classes the multiple-provider count includes. The studies counted opioids only ("opioid"
# reproduces them); a benzodiazepine clinic counts every controlled class (clinic default).
LEDGER_RISK_MULTIPLE_PROVIDER_CLASSES = env.list(
    "LEDGER_RISK_MULTIPLE_PROVIDER_CLASSES", default=["benzodiazepine", "z-drug", "opioid", "stimulant"]
)
# A refill is early when more than this share of the previous supply is left (clinic default).
LEDGER_RISK_EARLY_REFILL_REMAINING_FRACTION = env.str("LEDGER_RISK_EARLY_REFILL_REMAINING_FRACTION", default="0.25")
# Days a benzodiazepine and an opioid supply must share to flag (any: FDA boxed warning 2016,
# 2025 Joint Guideline Rec 17 offers naloxone to "all patients co-prescribed").
LEDGER_RISK_OPIOID_OVERLAP_MIN_DAYS = env.int("LEDGER_RISK_OPIOID_OVERLAP_MIN_DAYS", default=1)
# Total daily diazepam-equivalent (mg) over which a flag is raised: 2025 Joint Guideline Table 2 "high".
LEDGER_RISK_HIGH_TOTAL_DZE_MG = env.str("LEDGER_RISK_HIGH_TOTAL_DZE_MG", default="15")
# The equivalence table the total uses: ashton (default) or va_dod (tapers.equivalence).
LEDGER_RISK_EQUIVALENCE_TABLE = env.str("LEDGER_RISK_EQUIVALENCE_TABLE", default="ashton")
# Days after a PDMP check that the next one is due: "at least every 3 months", 2025 Joint
# Guideline Rec 1 (1b: review the PDMP), clinical.md 2.1.
PDMP_RECHECK_DAYS = env.int("PDMP_RECHECK_DAYS", default=90)
# Largest PDMP report file accepted (bytes).
PDMP_IMPORT_MAX_BYTES = env.int("PDMP_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)

# --- Tapers: taper plans and withdrawal checks (tapers.services.plans) ----------------------
# A new plan's CIWA-B hold band (mild, moderate, severe, very_severe): a check at or over it
# holds the next step. Clinic default moderate (issue 6), applying 2025 Joint Guideline Rec 11.
TAPER_HOLD_BAND = env.str("TAPER_HOLD_BAND", default="moderate")
# At or over this band a check also prompts the team to consider a higher level of care
# (2025 Joint Guideline Rec 5: inpatient care for severe or complicated withdrawal).
TAPER_ESCALATE_BAND = env.str("TAPER_ESCALATE_BAND", default="severe")
# Vital signs over these hold the next step. Clinic defaults (the reference gives none);
# review with the medical director.
TAPER_HOLD_MAX_SYSTOLIC = env.int("TAPER_HOLD_MAX_SYSTOLIC", default=160)
TAPER_HOLD_MAX_DIASTOLIC = env.int("TAPER_HOLD_MAX_DIASTOLIC", default=100)
TAPER_HOLD_MAX_PULSE = env.int("TAPER_HOLD_MAX_PULSE", default=100)
# Hours a patient's single-use check link stays valid.
TAPER_CHECK_LINK_HOURS = env.int("TAPER_CHECK_LINK_HOURS", default=24)
# Requests a minute from one address to the check-link endpoints (no login there).
TAPER_CHECK_LINK_THROTTLE = env.str("TAPER_CHECK_LINK_THROTTLE", default="20/min")

# --- Tapers: coordination with outside prescribers (tapers.services.coordination) -----------
# Sender of letters to outside prescribers' secure addresses (they receive records under a
# Part 2 consent, so this one may name the clinic; patient reminders keep DEFAULT_FROM_EMAIL).
COORDINATION_FROM_EMAIL = env.str("COORDINATION_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
# Letterhead when the sender has no primary location: the clinic's name, then lines ("|" between).
COORDINATION_LETTERHEAD_NAME = env.str("COORDINATION_LETTERHEAD_NAME", default="Clinic")
COORDINATION_LETTERHEAD_LINES = [
    line.strip() for line in env.str("COORDINATION_LETTERHEAD_LINES", default="").split("|") if line.strip()
]
# A TrueType font for letters (any script); empty: the built-in Helvetica, Latin-1 only.
COORDINATION_LETTER_FONT_PATH = env.str("COORDINATION_LETTER_FONT_PATH", default="")
# What a change of prescriber of record tells the other prescribers, and the purposes a consent
# may name for it, tried in order (a TPO consent covers "treatment", not "care_coordination").
COORDINATION_NOTICE_INFORMATION = env.list("COORDINATION_NOTICE_INFORMATION", default=["medications"])
COORDINATION_NOTICE_PURPOSES = env.list("COORDINATION_NOTICE_PURPOSES", default=["care_coordination", "treatment"])
# Tries of a letter by secure email before it fails for staff to look at; waits double from the base.
COORDINATION_EMAIL_MAX_RETRIES = env.int("COORDINATION_EMAIL_MAX_RETRIES", default=5)
COORDINATION_EMAIL_RETRY_BASE_SECONDS = env.int("COORDINATION_EMAIL_RETRY_BASE_SECONDS", default=60)
# A communication's channel is not a reminder's: each keeps its own name in the OpenAPI
# schema (the reminders' keeps the ChannelEnum it had before communications had a channel).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(  # type: ignore[attr-defined]
    {
        "CommunicationChannelEnum": "tapers.models.coordination.CommunicationChannel",
        "ChannelEnum": "scheduling.models.SENDING_CHANNELS",
        "EligibilityCheckStatusEnum": "insurance.models.CheckStatus",
        "AuthorizationStatusEnum": "insurance.models.AuthorizationStatus",
        "SubscriberSexEnum": "insurance.models.Sex",
    }
)

# --- Insurance: eligibility (X12 270/271), benefits, authorizations (insurance/) --------------
# The real-time clearinghouse (CAQH CORE connectivity over HTTPS). Empty URL: no "http" mode;
# staff check by phone (manual) or upload the payer's 271 (file).
CLEARINGHOUSE_BACKEND = env.str("CLEARINGHOUSE_BACKEND", default="insurance.clearinghouse.CoreHttpBackend")
CLEARINGHOUSE_URL = env.str("CLEARINGHOUSE_URL", default="")
CLEARINGHOUSE_USERNAME = env.str("CLEARINGHOUSE_USERNAME", default="")
CLEARINGHOUSE_PASSWORD = env.str("CLEARINGHOUSE_PASSWORD", default="")
# CORE asks for a real-time answer within 20 s; the rest is for the network.
CLEARINGHOUSE_TIMEOUT_SECONDS = env.float("CLEARINGHOUSE_TIMEOUT_SECONDS", default=30)
# "true", "false", or the path of a CA bundle for a clearinghouse whose certificate a private CA signed.
_verify = env.str("CLEARINGHOUSE_VERIFY_TLS", default="true")
CLEARINGHOUSE_VERIFY_TLS: bool | str = {"true": True, "false": False}.get(_verify.lower(), _verify)
# Our and the clearinghouse's ids in the envelope (ISA06/GS02 and ISA08/GS03).
CLEARINGHOUSE_SENDER_ID = env.str("CLEARINGHOUSE_SENDER_ID", default="CLINIC")
CLEARINGHOUSE_RECEIVER_ID = env.str("CLEARINGHOUSE_RECEIVER_ID", default="CLEARINGHOUSE")
# Tries of a transient clearinghouse failure before the check fails for staff; waits double.
CLEARINGHOUSE_MAX_RETRIES = env.int("CLEARINGHOUSE_MAX_RETRIES", default=4)
CLEARINGHOUSE_RETRY_BASE_SECONDS = env.int("CLEARINGHOUSE_RETRY_BASE_SECONDS", default=30)
# ISA15: P production, T test.
X12_USAGE = env.str("X12_USAGE", default="P")
# The information receiver of the 270 (2100B): the billing provider's name and NPI.
ELIGIBILITY_PROVIDER_NAME = env.str("ELIGIBILITY_PROVIDER_NAME", default="Clinic")
ELIGIBILITY_PROVIDER_NPI = env.str("ELIGIBILITY_PROVIDER_NPI", default="")
# TRN03 of the 270: "1" followed by the provider's EIN (or the clearinghouse's assigned id).
ELIGIBILITY_TRACE_ORIGINATOR = env.str("ELIGIBILITY_TRACE_ORIGINATOR", default="9000000000")
# Service types asked (EQ01): 30 plan coverage, then substance abuse, alcoholism, drug
# addiction, mental health, and the outpatient facility / provider codes
# (../shared/reference/clinical.md 7.1).
ELIGIBILITY_SERVICE_TYPES = env.list("ELIGIBILITY_SERVICE_TYPES", default=["30", "AI", "AJ", "AK", "MH", "CJ", "CF"])
# Which 271 service types answer for each level, most specific first; empty: insurance.benefits' defaults.
INSURANCE_LEVEL_SERVICE_TYPES = {
    level: env.list(f"INSURANCE_{level.upper()}_SERVICE_TYPES", default=[]) or None
    for level in ("php", "iop", "outpatient")
}
# The clinic's charge per unit (a PHP or IOP day, an outpatient visit), for the patient-share
# estimate; unset: no estimate. Format: "php=1200,iop=450,outpatient=150".
INSURANCE_CHARGES = {
    level: Decimal(amount)
    for level, amount in env.dict(
        "INSURANCE_CHARGES", default={"php": "1200", "iop": "450", "outpatient": "150"}
    ).items()
}
# Units a usual week holds at each level (PHP 5 days, IOP 3 days, outpatient 1 visit), for
# the weekly estimate.
INSURANCE_UNITS_PER_WEEK = {
    level: int(units)
    for level, units in env.dict("INSURANCE_UNITS_PER_WEEK", default={"php": 5, "iop": 3, "outpatient": 1}).items()
}
# Levels whose program days need a payer's authorization (most payers: PHP and IOP).
INSURANCE_AUTHORIZATION_LEVELS = env.list("INSURANCE_AUTHORIZATION_LEVELS", default=["php", "iop"])
# Billing is alerted this many days before a concurrent review, and before the authorized
# units run out or the authorization ends.
INSURANCE_REVIEW_ALERT_DAYS = env.int("INSURANCE_REVIEW_ALERT_DAYS", default=3)
INSURANCE_RUNOUT_ALERT_DAYS = env.int("INSURANCE_RUNOUT_ALERT_DAYS", default=5)
# How far ahead bookings without an approved authorization are flagged.
INSURANCE_UNAUTHORIZED_LOOKAHEAD_DAYS = env.int("INSURANCE_UNAUTHORIZED_LOOKAHEAD_DAYS", default=14)

# --- Logging -----------------------------------------------------------------------------
# Logs carry ids, never patient data (names, dates of birth, phone numbers, MRNs).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Reminders (scheduling.services.reminders) ---------------------------------------------
# Due reminders claimed per batch, and batches per dispatcher run (beat runs it every minute).
REMINDER_DISPATCH_BATCH = env.int("REMINDER_DISPATCH_BATCH", default=500)
REMINDER_DISPATCH_MAX_BATCHES = env.int("REMINDER_DISPATCH_MAX_BATCHES", default=200)
# Reminder ids per send task: a chunk is locked, re-checked and recorded in one transaction, so
# Celery's cost per task, the policy read and the query planning are paid once per chunk.
REMINDER_SEND_CHUNK = env.int("REMINDER_SEND_CHUNK", default=50)
# A claimed reminder not sent within this many seconds (its worker died, or the broker lost
# the task) is claimed again. Longer than any one send can take.
REMINDER_CLAIM_LEASE_SECONDS = env.int("REMINDER_CLAIM_LEASE_SECONDS", default=600)
# Sends tried per reminder before it fails into the staff queue; waits double from the base.
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_RETRY_BASE_SECONDS = env.int("REMINDER_RETRY_BASE_SECONDS", default=30)
# Extra words a reminder template may not contain (comma-separated), beyond the built-in list.
REMINDER_EXTRA_REVEALING_WORDS = env.list("REMINDER_EXTRA_REVEALING_WORDS", default=[])
