"""Settings for the GPT store. Every value that differs between machines comes from the environment;
`.env.example` lists them all. Defaults run the whole store on one machine (SQLite + local files)."""

import datetime as dt
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or local_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "core",
    "accounts",
    "registry",
    "marketplace",
    "files",
    "jobs",
    "training",
    "evaluation",
    "compression",
    "serving",
    "evals",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectNulBytes",
    "config.bodies.GuardRequestBodies",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out log-in into the cool-down page (429)
]

# Web log-ins are throttled by django-axes (docs/security.md): after LOGIN_FAILURE_LIMIT wrong passwords for one
# account, or from one client address, log-ins from there are refused for LOGIN_COOLOFF_MINUTES; the right
# password during the cool-down is refused too. API keys do not log in and are rate-limited on their own.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one: an account, or an address trying many
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
PASSWORD_RESETS_PER_HOUR = env_int("PASSWORD_RESETS_PER_HOUR", 5, minimum=1)  # per e-mail address and per client

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

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
                "accounts.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the worker read while the web writes; the timeout rides out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Chart.js comes from npm (make setup: npm ci), served under static/vendor/chart.js/.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),  # the design system, site.css on top
]
STATIC_ROOT = VAR_DIR / "staticfiles"

# Blob storage. Keys are always made by the server (blobs/ab/cd/<sha256>), never from a client's path.
STORAGE_ROOT = Path(env_str("STORAGE_ROOT", str(VAR_DIR / "storage")))
UPLOAD_TEMP_DIR = Path(env_str("UPLOAD_TEMP_DIR", str(STORAGE_ROOT / ".incoming")))
_S3_BUCKET = env_str("S3_BUCKET", "")
STORAGES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(STORAGE_ROOT)},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if _S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
            "file_overwrite": False,
        },
    }

# Limits
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 5 * 1024**3, minimum=1)
DEFAULT_STORAGE_QUOTA_BYTES = env_int("DEFAULT_STORAGE_QUOTA_BYTES", 20 * 1024**3, minimum=0)
REGULAR_UPLOAD_MAX_BYTES = env_int("REGULAR_UPLOAD_MAX_BYTES", 10 * 1024**2, minimum=0)
MAX_COMMIT_BODY_BYTES = env_int("MAX_COMMIT_BODY_BYTES", 64 * 1024**2, minimum=1)
LFS_URL_TTL_SECONDS = env_int("LFS_URL_TTL_SECONDS", 3600, minimum=1)
XET_TOKEN_TTL_SECONDS = env_int("XET_TOKEN_TTL_SECONDS", 3600, minimum=60)  # a CAS token (registry/xet/tokens.py)
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024**2
# Request bodies (config/bodies.py): how long a read waits for bytes, how many bodies one caller may send at once
BODY_IDLE_TIMEOUT_SECONDS = env_int("BODY_IDLE_TIMEOUT_SECONDS", 15, minimum=1)
MAX_CONCURRENT_BODIES_PER_CALLER = env_int("MAX_CONCURRENT_BODIES_PER_CALLER", 4, minimum=1)
BODY_MAX_SECONDS = env_int("BODY_MAX_SECONDS", 3600, minimum=60)  # a body in flight longer is forgotten by the cap
VALIDATION_LEASE_SECONDS = env_int("VALIDATION_LEASE_SECONDS", 600, minimum=1)
# A validation that crashes (storage, database, the engine itself) is tried again this many times in all, waiting
# VALIDATION_RETRY_SECONDS, then twice that, and so on; then the commit is `invalid` with the reason.
VALIDATION_ATTEMPTS = env_int("VALIDATION_ATTEMPTS", 5, minimum=1)
VALIDATION_RETRY_SECONDS = env_int("VALIDATION_RETRY_SECONDS", 30, minimum=0)

# Marketplace. Amounts are micro-credits (1 credit = 1,000,000); prices are per 1M tokens.
PLATFORM_FEE_PERCENT = env_int("PLATFORM_FEE_PERCENT", 20, minimum=0)
REVIEW_LISTINGS = env_bool("REVIEW_LISTINGS", True)
STOREFRONT_CACHE_SECONDS = env_int("STOREFRONT_CACHE_SECONDS", 120, minimum=0)  # 0: render every page afresh
REVIEWS_PER_HOUR = env_int("REVIEWS_PER_HOUR", 10, minimum=1)  # new reviews and edits, per user
REPORTS_PER_HOUR = env_int("REPORTS_PER_HOUR", 5, minimum=1)  # listing reports, per user
DEFAULT_KEY_RPM = env_int("DEFAULT_KEY_RPM", 600, minimum=1)
DEFAULT_KEY_TPM = env_int("DEFAULT_KEY_TPM", 1_000_000, minimum=1)
MAX_KEYS_PER_USER = env_int("MAX_KEYS_PER_USER", 50, minimum=1)  # active (not revoked, not expired) keys
RESERVATION_TTL_SECONDS = env_int("RESERVATION_TTL_SECONDS", 900, minimum=1)
MAX_TOPUP_MICRO = env_int("MAX_TOPUP_CREDITS", 1_000_000, minimum=1) * 1_000_000
MAX_PRICE_PER_MILLION_MICRO = env_int("MAX_PRICE_PER_MILLION_CREDITS", 10_000, minimum=0) * 1_000_000
PAYMENT_PROVIDER = env_str("PAYMENT_PROVIDER", "test")
# None: charge with one SQL statement per step on PostgreSQL, portable statements elsewhere (tests pin both).
CHARGE_IN_ONE_STATEMENT = None
# Those statements are prepared once per connection, which skips PostgreSQL's planner (~0.5 ms each) on every
# call. Turn it off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode).
CHARGE_PREPARED_STATEMENTS = env_bool("CHARGE_PREPARED_STATEMENTS", True)
if CHARGE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django's own queries bind on the client and are never prepared; this only enables psycopg's preparing.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
if PLATFORM_FEE_PERCENT > 100:
    raise ImproperlyConfigured("PLATFORM_FEE_PERCENT must be between 0 and 100")

# Training (docs/training.md)
TRAINING_PRICE_PER_1M_TOKENS = env_int("TRAINING_PRICE_PER_1M_TOKENS", 1_000_000, minimum=0)  # micro-credits
MAX_TRAINING_FILE_BYTES = env_int("MAX_TRAINING_FILE_BYTES", 64 * 1024 * 1024, minimum=1)
MIN_FINE_TUNE_EXAMPLES = env_int("MIN_FINE_TUNE_EXAMPLES", 10, minimum=1)
MAX_JOB_TOKENS = env_int("MAX_JOB_TOKENS", 50_000_000, minimum=1)  # dataset tokens x epochs
MAX_JOB_SECONDS = env_int("MAX_JOB_SECONDS", 6 * 3600, minimum=1)
MAX_JOB_ATTEMPTS = env_int("MAX_JOB_ATTEMPTS", 3, minimum=1)
MAX_ACTIVE_JOBS_PER_USER = env_int("MAX_ACTIVE_JOBS_PER_USER", 2, minimum=1)
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 20, minimum=2)  # renewed every 2 s; a lost worker's job restarts
REAP_JOBS_SECONDS = env_int("REAP_JOBS_SECONDS", 10, minimum=1)  # within lease + this (jobs/reaper.py)
MAX_PAUSE_SECONDS = env_int("MAX_PAUSE_SECONDS", 7 * 86400, minimum=60)  # a paused job's hold lasts this long
# Resumable training state (weights, optimizer, RNGs, data position): a volume every train worker shares
TRAINING_STATE_ROOT = Path(env_str("TRAINING_STATE_ROOT", str(VAR_DIR / "training-state")))
CHECKPOINT_EVERY_STEPS = env_int("CHECKPOINT_EVERY_STEPS", 0, minimum=0)  # 0: at the end of each epoch only
TRAIN_WORKER_CONCURRENCY = env_int("TRAIN_WORKER_CONCURRENCY", 1, minimum=1)  # job workers sharing this machine
# Job workers by resource class (jobs/queues.py): the queue that wakes each class's workers. A worker woken on a
# class's queue claims jobs of that class and of class `any`; JOB_WORKER_KINDS (comma-separated) narrows it to kinds.
JOB_QUEUES = {"cpu": env_str("JOB_QUEUE_CPU", "jobs-cpu"), "gpu": env_str("JOB_QUEUE_GPU", "jobs-gpu")}
JOB_WORKER_KINDS = tuple(env_list("JOB_WORKER_KINDS", []))
TRAINING_RESOURCE_CLASS = env_str("TRAINING_RESOURCE_CLASS", "any")  # where fine-tuning and pretraining may run
if TRAINING_RESOURCE_CLASS not in ("cpu", "gpu", "any"):
    raise ImproperlyConfigured(f"TRAINING_RESOURCE_CLASS must be cpu, gpu or any, got {TRAINING_RESOURCE_CLASS!r}")
# Evaluation (docs/evaluation.md): every commit that becomes valid is evaluated by the store, on a worker of this class
EVALUATE_VALID_COMMITS = env_bool("EVALUATE_VALID_COMMITS", True)
EVALUATION_RESOURCE_CLASS = env_str("EVALUATION_RESOURCE_CLASS", "any")
EVAL_MAX_ITEMS = env_int("EVAL_MAX_ITEMS", 500, minimum=1)  # rows in one run of the Evals API
EVAL_DEFAULT_MAX_TOKENS = env_int("EVAL_DEFAULT_MAX_TOKENS", 256, minimum=1)  # a run's completion bound when unset
if EVALUATION_RESOURCE_CLASS not in ("cpu", "gpu", "any"):
    raise ImproperlyConfigured(f"EVALUATION_RESOURCE_CLASS must be cpu, gpu or any, got {EVALUATION_RESOURCE_CLASS!r}")

# Inference workers
INFER_CACHE_MB = env_int("INFER_CACHE_MB", 4096, minimum=1)  # loaded models per worker process, LRU beyond this
INFER_MAX_BATCH = env_int("INFER_MAX_BATCH", 32, minimum=1)  # sequences decoded together per model
# float32 | bfloat16 | float16 | auto: bfloat16 where it is fast (AMX, CUDA), else float32 (docs/serving.md, "bf16")
INFER_DTYPE = env_str("INFER_DTYPE", "float32")
if INFER_DTYPE not in ("float32", "bfloat16", "float16", "auto"):
    raise ImproperlyConfigured(f"INFER_DTYPE must be float32, bfloat16, float16 or auto, got {INFER_DTYPE!r}")

# The /v1 gateway
MAX_PROMPT_CHARS = env_int("MAX_PROMPT_CHARS", 200_000, minimum=1)
MAX_COMPLETION_TOKENS = env_int("MAX_COMPLETION_TOKENS", 4096, minimum=1)
DEFAULT_CHAT_MAX_TOKENS = env_int("DEFAULT_CHAT_MAX_TOKENS", 256, minimum=1)  # chat calls that set no limit
INFER_TIMEOUT_SECONDS = env_int("INFER_TIMEOUT_SECONDS", 120, minimum=1)  # a call running longer answers 504
MAX_CHOICES = env_int("MAX_CHOICES", 8, minimum=1)  # the largest `n`
MAX_BEAMS = env_int("MAX_BEAMS", 8, minimum=1)  # the largest `num_beams` (beam search runs outside the batch)
INFER_QUEUE_LIMIT = env_int("INFER_QUEUE_LIMIT", 256, minimum=0)  # calls queued or running per model, then 503
# The inference backends a call can be routed to, each a name and the Celery queue its workers consume:
# "batching" is the store's own continuous-batching engine (the Procfile's `infer` worker). INFERENCE_BACKEND names
# the one that serves calls. Another engine (vLLM on GPU nodes) is one more entry: INFERENCE_BACKEND_QUEUES=
# "batching=infer,vllm=infer-vllm" with INFERENCE_BACKEND=vllm.
INFERENCE_BACKENDS = dict(
    entry.split("=", 1) for entry in env_list("INFERENCE_BACKEND_QUEUES", ["batching=infer"]) if "=" in entry
)
INFERENCE_BACKEND = env_str("INFERENCE_BACKEND", "batching")
if INFERENCE_BACKEND not in INFERENCE_BACKENDS:
    raise ImproperlyConfigured(
        f"INFERENCE_BACKEND {INFERENCE_BACKEND!r} has no queue in INFERENCE_BACKEND_QUEUES ({sorted(INFERENCE_BACKENDS)})"
    )

# Redis and Celery
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
# Rendered storefront pages, shared by every web process (marketplace/services/catalogue.py; a page is dropped when
# any listing changes, and a Redis outage only means pages are rendered afresh).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    }
}
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "registry.tasks.*": {"queue": "validate"},
    "workers.tasks.generate": {"queue": "infer"},
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
    # A web process publishing to a broker that is down gives up within ~1 s and answers 503 (kombu's default
    # retries took ~6 s); workers reconnect on their own loop (broker_connection_retry), not this one.
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CATALOGUE_REFRESH_SECONDS = env_int("CATALOGUE_REFRESH_SECONDS", 300, minimum=10)  # calls and speeds recounted
CELERY_BEAT_SCHEDULE = {
    "deliver-outbox": {"task": "core.tasks.deliver_outbox", "schedule": 30.0},  # events whose nudge was lost, retries
    "requeue-stuck-validations": {"task": "registry.tasks.requeue_stuck_validations", "schedule": 60.0},
    "void-stale-reservations": {"task": "marketplace.tasks.void_stale_reservations", "schedule": 60.0},
    "warn-low-balances": {"task": "marketplace.tasks.warn_low_balances", "schedule": 900.0},
    "refresh-catalogue-usage": {
        "task": "marketplace.tasks.refresh_catalogue_usage",
        "schedule": float(CATALOGUE_REFRESH_SECONDS),
    },
    # queued jobs whose nudge was lost wake a worker of their class (one nudge waits per queue at most)
    "look-for-job-work": {"task": "jobs.tasks.look_for_work", "schedule": 30.0},
    # jobs whose worker was lost go back to the queue with an event; paused jobs past MAX_PAUSE_SECONDS end
    "reap-jobs": {"task": "jobs.tasks.reap_jobs", "schedule": float(REAP_JOBS_SECONDS)},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.authentication.ScopeRequired",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["core.json_input.SafeJSONParser"],  # the JSON API takes JSON only
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GPT store API",
    "DESCRIPTION": "The OpenAI-compatible /v1, the Hugging Face Hub protocol, keys, billing and the portal.",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.openapi.complete_schema"],
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar): /api/docs/ works offline and under the CSP
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Production hardening. HTTPS (default: on unless DEBUG) turns on HSTS, secure cookies and the redirect to https;
# each can be set on its own. `make run` serves plain http on 127.0.0.1, so it sets HTTPS=0.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a promise to browsers that is slow to take back: an operator opts in. Its deploy check (W021)
# only reminds us of that choice, so it is silenced while the choice is "no".
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Email (password resets, notifications): printed on the console unless EMAIL_HOST names an SMTP server.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")  # links in emails
LOW_BALANCE_CREDITS = env_int("LOW_BALANCE_CREDITS", 1, minimum=0)  # warn a consumer below this (whole credits)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "GPT store <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=60)

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (django-csp): scripts and styles only from our own static files, never
# inline, so an injected <script> or on* attribute does not run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # torchao warns at import about each CUDA kernel library a CPU build cannot load: noise in every worker's log
    "loggers": {"torchao": {"level": "ERROR"}},
}
