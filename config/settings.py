"""Settings, read from the environment (see `.env.example`).

Every value that differs between a laptop and a production host comes from an environment
variable; a bad value fails loudly at start-up rather than at the first request.
"""

import logging
import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` is a convenience for development; production sets real variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str(
    "SECRET_KEY",
    # Only for development: `manage.py check --deploy` flags this key (security.W009).
    default="django-insecure-dev-only-change-me-0123456789abcdefghijklmnopqrstuvwxyz",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The Ed25519 keys that sign coupon QR codes: "KID:SEED,KID:SEED", the first one signs, all
# verify (rotation). Without it, a key is derived from SECRET_KEY: fine on a laptop only.
COUPON_SIGNING_KEYS = env.str("COUPON_SIGNING_KEYS", default="")

# Personal data at rest (beneficiaires/privacy.py). FIELD_ENCRYPTION_KEYS: Fernet keys,
# comma-separated, the first encrypts and all decrypt (rotation). PRIVACY_HASH_KEY keys the
# hashes used to find a name or a duplicate. Without them, keys are derived from SECRET_KEY:
# fine on a laptop only (deploy check beneficiaires.W001).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
PRIVACY_HASH_KEY = env.str("PRIVACY_HASH_KEY", default="")
SALT_KEY = "coupons-nourriciers"  # read by django-fernet-encrypted-fields; our fields use the above

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "ninja",
    "csp",
    "django_tasks",
    "django_tasks_db",
    # Ours, in the order of the layers (each imports only from those above it).
    "comptes",
    "programmes",
    "financement",
    "beneficiaires",
    "coupons",
    "marches",
    "rapports",
]

MIDDLEWARE = [
    "comptes.headers.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "comptes.middleware.FrenchFirstLocaleMiddleware",
    "comptes.middleware.RefuseNullCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "comptes.headers.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "comptes.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two redemptions of the same
    # coupon queue up instead of failing with "database is locked" half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not shared-cache memory, so that tests with threads get real locking.
    # One file per test run, so that two runs on the same checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: a gunicorn worker keeps its connection between requests instead of
# opening one per request (a new PostgreSQL backend process each time), checked before reuse.
# CONN_MAX_AGE=0 closes it after every request (see docs/configuration.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "comptes.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# allauth: email login, no public sign-up (people join through an invitation).
ACCOUNT_ADAPTER = "comptes.adapters.InvitationOnlyAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accueil"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# --- Strong sign-in (comptes/security.py, docs/configuration.md "Connexion et MFA") -----------
# MFA (allauth.mfa): TOTP with recovery codes, and WebAuthn security keys where the browser has
# them. Required for network admins, coordinators and market managers (MFARequiredMiddleware).
INSTALLED_APPS += ["allauth.mfa", "axes"]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = env.bool("MFA_PASSKEY_LOGIN", default=False)
MFA_TOTP_ISSUER = "Coupons nourriciers"
# WebAuthn needs HTTPS; plain http://localhost is allowed on a developer's machine only.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR). The
# lockouts and rate limits count per client address, so this must match the deployment.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
# Lockout (django-axes): 5 failures for one email from one address lock that pair for 15 min.
# Its backend must come first: it refuses a locked-out pair before any password is checked.
AUTHENTICATION_BACKENDS = ["comptes.security.LockoutBackend", *AUTHENTICATION_BACKENDS]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "comptes.security.lockout_response"  # French page, status 429
AXES_USERNAME_CALLABLE = "comptes.security.attempted_email"
AXES_CLIENT_IP_CALLABLE = "comptes.security.client_ip"
# allauth's own sign-in limits per address stay on; its per-email limit is left to axes, which
# counts per email *and* address, so that a stranger's failures cannot lock a person out.
ACCOUNT_RATE_LIMITS = {"login": "30/m/ip", "login_failed": "10/m/ip"}
# Sessions: signed out after SESSION_IDLE_SECONDS without a request, and SESSION_MAX_SECONDS
# after signing in whatever happens (SessionTimeoutMiddleware).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_MAX_SECONDS = env.int("SESSION_MAX_SECONDS", default=12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS


def _rate_setting(name: str, default: str) -> str:
    """A rate limit: "REQUESTS/SECONDS", or "off"; a bad value stops start-up."""
    value = env.str(name, default=default)
    if value != "off" and not re.fullmatch(r"[1-9][0-9]*/[1-9][0-9]*", value):
        raise ImproperlyConfigured(f'{name} must be "REQUESTS/SECONDS" (e.g. {default}) or "off".')
    return value


# The API's limit per device token (or per address without one).
# Generous: a scanner's batch sync after a day offline is a few requests, not hundreds.
API_RATE_LIMIT = _rate_setting("API_RATE_LIMIT", "600/60")
# Payments started from the public donation and sale forms, per address (each one is a pending
# row and a Checkout session at Stripe): a family buying twice is far below it, a script is not.
CHECKOUT_RATE_LIMIT = _rate_setting("CHECKOUT_RATE_LIMIT", "10/600")
MIDDLEWARE += [
    "comptes.security.APIRateLimitMiddleware",
    "comptes.security.SessionTimeoutMiddleware",
    "comptes.security.MFARequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]
# --- end of strong sign-in ------------------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="coupons@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

LANGUAGE_CODE = "fr-ca"
LANGUAGES = [("fr-ca", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "America/Toronto"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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
WHITENOISE_MIMETYPES = {".wasm": "application/wasm", ".webmanifest": "application/manifest+json"}

# --- Headers, cookies and HTTPS (docs/configuration.md, "En-têtes et réglages de production") ---
# Secure by default outside DEBUG: `manage.py check --deploy --fail-level WARNING` passes with
# only the variables of .env.example (tests/test_deploy_check.py). Behind the reverse proxy,
# TLS ends at the proxy, which must send X-Forwarded-Proto (and strip a client's own).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The proxy's or the host's health probe may speak plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading commits the whole domain to HTTPS in every browser: a host's decision, off by
# default; the deploy check's reminder about it (security.W021) is therefore silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # a wallet link's token never leaves in a Referer
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
# Pages send the CSRF token in their forms (the scanner reads it from its form), so no script
# needs the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
if SESSION_COOKIE_SECURE:
    # "__Host-" cookies are refused by browsers unless Secure, for "/" and without a Domain:
    # no sibling subdomain can plant or read them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
if CSRF_COOKIE_SECURE:
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# --- end of headers, cookies and HTTPS (CSP below, logs at the end) ---

# No inline script or style anywhere (tests/test_headers.py renders every page to check it); the
# scanner's QR decoder (the vendored barcode-detector) needs WebAssembly: 'wasm-unsafe-eval'
# allows compiling it, never eval() of script text.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        # The donation and sale forms answer with a redirect to Stripe's hosted Checkout, and
        # browsers apply form-action to the redirect too.
        "form-action": ["'self'", "https://checkout.stripe.com"],
    },
}

# Background jobs (django-tasks): a database queue and `manage.py db_worker`, no broker.
# TASKS_BACKEND=immediate runs them in the request (tests, a laptop without a worker).
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if env.str("TASKS_BACKEND", default="database") == "immediate"
            else "django_tasks_db.DatabaseBackend"
        )
    }
}

# Large coupon PDFs made by the print jobs (coupons/printing.py): they hold bearer secrets, so
# they live outside any served folder, are downloaded through a scoped view, and are deleted
# after PRINT_FILE_DAYS days (the daily `purge_print_files` job, see docs/configuration.md).
PRINT_ROOT = Path(env.str("PRINT_ROOT", default=str(BASE_DIR / "var" / "print")))
PRINT_FILE_DAYS = env.int("PRINT_FILE_DAYS", default=7)

# Stripe (hosted Checkout and webhooks, financement/stripe_gateway.py): from the environment only.
# Without both keys, the donation and sale pages say that online payment is not configured.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
if STRIPE_WEBHOOK_TOLERANCE <= 0:
    # The library skips the age check when the tolerance is 0: replayed events would pass.
    raise ImproperlyConfigured("STRIPE_WEBHOOK_TOLERANCE must be a number of seconds above 0.")

# Money: every amount is a Decimal with two places, in this currency unless a program says
# otherwise.
DEFAULT_CURRENCY = "CAD"

# Logs go to stderr (journald or the container runtime keeps them). LOG_FORMAT=json writes one
# JSON object per line (comptes/jsonlog.py) for a log shipper; every line of a request carries
# its id, also sent back as X-Request-ID (comptes/headers.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured('LOG_FORMAT must be "plain" or "json".')
if LOG_FORMAT == "json":
    # Python's warnings too (logger "py.warnings"), so that every line on stderr is JSON.
    logging.captureWarnings(True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "comptes.jsonlog.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "comptes.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
