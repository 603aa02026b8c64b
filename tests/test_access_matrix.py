"""The access matrix (issue #10; shared/RELIABILITY.md #4), generated from the URL resolver.

Every route is listed below. A route that names a private object (a model, revision, commit, file, upload session,
key, listing) is tried with every method by every identity that is not its owner: another user's full key, another
user's browser session, and anonymous. Each must get exactly the answer (status and body) that the same identity
gets for an object that does not exist, and 404 where the route serves that method. Nothing may change (a snapshot
of the database is compared). The owner's key lacking the route's scope gets 403, and changes nothing either.
A route that this file does not list fails the test, so a new route cannot be forgotten."""

import dataclasses
import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import services as accounts
from accounts.models import ApiKey
from evals.models import Eval, OutputItem
from evaluation.models import Evaluation
from files import services as training_files
from files.models import File as TrainingFile
from jobs import kinds
from jobs.models import Job, JobCheckpoint, JobEvent, JobFile
from jobs.services import new_id
from marketplace.models import Account, LedgerEntry, Listing, PriceCard, Reservation, UsageRecord
from marketplace.services import listings
from registry import services as registry
from registry import uploads
from registry.models import Blob, Commit, FileEntry, Model, Ref, UploadSession, XetFile, XetToken, Xorb
from tests.training.rows import fine_tuning_job
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
SECRET, MISSING = "alice/secret", "alice/nothing"  # the owner's private model, and one that does not exist


@dataclasses.dataclass(frozen=True)
class Row:
    """How to address the owner's object on a route: `url` and `body` get the model id ('alice/secret' or
    'alice/nothing') and, for routes naming a key or upload, the object's id or a missing one."""

    url: str
    scope: str | None = None  # the scope a key needs here; the owner's key without it gets 403
    body: str | None = None
    content_type: str = "application/json"


def repo_body(repo: str) -> str:
    return json.dumps({"name": repo.split("/")[1], "organization": "alice"})


# Routes that name a private object of the owner.
PRIVATE = {
    "hf-model-info": Row("/api/models/{repo}", "read"),
    "hf-model-revision": Row("/api/models/{repo}/revision/main", "read"),
    "hf-tree": Row("/api/models/{repo}/tree/main", "read"),
    "hf-refs": Row("/api/models/{repo}/refs", "read"),
    "hf-resolve": Row("/{repo}/resolve/main/config.json", "read"),
    "hf-preupload": Row("/api/models/{repo}/preupload/main", "write", json.dumps({"files": []})),
    "hf-xet-token": Row("/api/models/{repo}/xet-write-token/main", "write"),
    "hf-commit": Row(
        "/api/models/{repo}/commit/main",
        "write",
        '{"key": "header", "value": {"summary": "x"}}\n',
        "application/x-ndjson",
    ),
    "hf-tag": Row("/api/models/{repo}/tag/main", "write", json.dumps({"tag": "v9"})),
    "hf-settings": Row("/api/models/{repo}/settings", "write", json.dumps({"private": False})),
    "hf-delete-repo": Row("/api/repos/delete", "write", "{repo_body}"),
    "lfs-batch": Row(
        "/{repo}.git/info/lfs/objects/batch",
        "write",
        json.dumps({"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}]}),
    ),
    "api-validation": Row("/api/models/{repo}/commits/{sha}/validation", "read"),
    "api-evaluations": Row("/api/v1/models/{repo}/evaluations", "read"),
    "api-lineage": Row("/api/v1/models/{repo}/lineage", "read"),
    "api-upload-detail": Row("/api/uploads/{upload}", "write"),
    "api-uploads": Row("/api/uploads", "write", '{"repo": "{repo}", "path": "a.txt", "size": 1}'),
    "api-uploads-commit": Row("/api/uploads/commit", "write", '{"repo": "{repo}", "uploads": [{upload}]}'),
    "api-key-detail": Row("/api/keys/{key}", "write"),
    "v1-model": Row("/v1/models/{repo}", "infer"),
    "v1-completions": Row("/v1/completions", "infer", '{"model": "{repo}", "prompt": "x", "max_tokens": 1}'),
    "v1-chat-completions": Row(
        "/v1/chat/completions", "infer", '{"model": "{repo}", "messages": [{"role": "user", "content": "x"}]}'
    ),
    "model-detail": Row("/{repo}"),
    "model-revision": Row("/{repo}/tree/main"),
    "model-commit": Row("/{repo}/commit/{sha}"),
    "model-commits": Row("/{repo}/commits"),
    "model-revalidate": Row("/{repo}/commit/{sha}/revalidate"),
    "model-evaluate": Row("/{repo}/commit/{sha}/evaluate"),
    "model-upload": Row("/{repo}/upload"),
    "model-edit-card": Row("/{repo}/edit"),
    "model-settings": Row("/{repo}/settings"),
    "listing-edit": Row("/{repo}/listing"),
    "listing-publish": Row("/{repo}/listing/publish"),
    "review-save": Row("/{repo}/reviews"),
    "review-reply": Row("/{repo}/reviews/1/reply"),
    "listing-report": Row("/{repo}/report"),
    "v1-file": Row("/v1/files/{file}", "read"),
    "v1-file-content": Row("/v1/files/{file}/content", "read"),
    "v1-fine-tuning-job": Row("/v1/fine_tuning/jobs/{job}", "read"),
    "v1-fine-tuning-job-action": Row("/v1/fine_tuning/jobs/{job}/cancel", "finetune", "{}"),
    "v1-fine-tuning-job-events": Row("/v1/fine_tuning/jobs/{job}/events", "read"),
    "v1-fine-tuning-job-checkpoints": Row("/v1/fine_tuning/jobs/{job}/checkpoints", "read"),
    "job-detail": Row("/jobs/{job}"),
    "v1-eval": Row("/v1/evals/{eval}", "read"),
    "v1-eval-runs": Row("/v1/evals/{eval}/runs", "read"),
    "v1-eval-run": Row("/v1/evals/{eval}/runs/{run}", "read"),
    "v1-eval-run-cancel": Row("/v1/evals/{eval}/runs/{run}/cancel", "infer", "{}"),
    "v1-eval-output-items": Row("/v1/evals/{eval}/runs/{run}/output_items", "read"),
    "v1-eval-output-item": Row("/v1/evals/{eval}/runs/{run}/output_items/{item}", "read"),
    "eval-report": Row("/evals/{eval}/runs/{run}"),
    "job-action": Row("/jobs/{job}/cancel"),
    "fine-tune-new": Row("/{repo}/fine-tune"),
    "compress-new": Row("/{repo}/compress"),
    "revoke-key": Row("/settings/keys/{key}/revoke"),
    "key-limits": Row("/settings/keys/{key}/limits"),
}

# Routes that name no private object, and why each is safe to leave out of the foreign-identity rows.
NOT_PRIVATE = {
    "home": "public storefront",
    "catalogue": "public storefront: published listings only (tests/marketplace/test_catalogue.py)",
    "search": "redirects to the catalogue",
    "compare": "published listings only (tests/marketplace/test_reviews.py)",
    "provider": "a provider's published listings only (tests/marketplace/test_catalogue.py)",
    "api-listings": "the catalogue as JSON: published listings only (tests/marketplace/test_catalogue.py)",
    "leaderboard": "published listings only (tests/evaluation/test_leaderboard.py)",
    "api-leaderboard": "the leaderboard as JSON: published listings only (tests/evaluation/test_leaderboard.py)",
    "signup": "creates an account",
    "login": "signs in",
    "logout": "signs out the caller",
    "password_reset": "sends a reset link to an address's owner (tests/accounts/test_password_reset.py)",
    "password_reset_done": "a static page",
    "password_reset_confirm": "authorized by the emailed one-time token (tests/accounts/test_password_reset.py)",
    "password_reset_complete": "a static page",
    "model-new": "creates a model in the caller's namespace",
    "notifications": "the caller's own notifications (tests/marketplace/test_notifications.py)",
    "keys": "the caller's own keys (tested in tests/accounts/test_web_accounts.py)",
    "wallet": "the caller's own wallet",
    "usage": "the caller's own usage",
    "jobs": "the caller's own fine-tuning jobs",
    "pretrain-new": "starts a pretraining job of the caller's own (tests/training/test_portal_forms.py)",
    "usage-csv": "the caller's own usage",
    "earnings": "the caller's own earnings",
    "api-keys": "lists and creates the caller's own keys (tests/accounts/test_keys.py)",
    "api-credits": "the caller's own credits",
    "api-usage": "the caller's own usage",
    "api-earnings": "the caller's own earnings (tests/marketplace/test_billing_api.py)",
    "payment-webhook": "signed by the payment provider (tests/marketplace/test_billing_api.py)",
    "lfs-upload": "authorized by its signed, expiring URL (tests/registry/test_protocol_errors.py)",
    "xet-xorb": "the CAS: a CAS token for one repository, never an API key (tests/registry/test_xet_cas.py)",
    "xet-shards": "the CAS: a write CAS token (tests/registry/test_xet_cas.py)",
    "xet-chunk": "the CAS: keyed chunk hashes only (tests/registry/test_xet_cas.py)",
    "xet-file": "the CAS: files of the token's repository only (tests/registry/test_xet_cas.py)",
    "xet-reconstruction": "the CAS: files of the token's repository only (tests/registry/test_xet_cas.py)",
    "xet-fetch": "authorized by its signed, expiring URL (tests/registry/test_xet_cas.py)",
    "hf-whoami": "the caller's own identity",
    "hf-create-repo": "creates in the caller's namespace only (tests/registry/test_protocol_errors.py)",
    "hf-validate-yaml": "validates the body it is sent",
    "hf-model-list": "lists what the caller may see (tests/registry/test_hf_clients.py)",
    "v1-models": "lists what the caller may call (tests/serving/test_openai_api.py)",
    "v1-files": "lists and uploads the caller's own files (tests/training/test_api.py)",
    "v1-fine-tuning-jobs": "lists and creates the caller's own jobs (tests/training/test_api.py)",
    "v1-evals": "lists and creates the caller's own evals (tests/evals/test_evals_api.py)",
    "schema": "the OpenAPI document",
    "status": "public: which infer workers run (tests/serving/test_no_worker.py)",
    "healthz": "public: the process answers (tests/test_health.py)",
    "readyz": "public: which dependencies answer, never why (tests/test_health.py)",
    "favicon": "a redirect to the static icon (tests/test_error_pages.py)",
    "api-docs": "the OpenAPI document's page",
}


def named_routes() -> set[str]:
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern) != "admin/":  # Django's admin: staff only, its own permission checks
                    yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield pattern.name

    return set(walk(get_resolver().url_patterns))


def test_every_route_has_a_row():
    assert named_routes() == set(PRIVATE) | set(NOT_PRIVATE)


@pytest.fixture
def world(provider, outsider):
    """alice owns a private model (a valid commit, a tag, a draft listing), an upload session and a key; mallory
    has a model, keys and a session of her own."""
    model = registry.create_model(owner=provider, name="secret", is_private=True)
    blob = registry.ingest_upload(user=provider, incoming_stream=[b'{"model_type": "gpt2"}'], size=22)
    commit = registry.commit_changes(model_id=model.pk, author=provider, message="x",
                                     operations=[registry.AddFile("config.json", blob)])  # fmt: skip
    registry.create_tag(model_id=model.pk, name="v1", revision="main")
    listings.save_listing(model=model, by=provider, title="Secret", license="mit")
    upload = uploads.start_upload(user=provider, model=model, path="b.txt", size=3)
    key, owner_secret = accounts.create_api_key(user=provider, name="full", scopes=["read", "write", "infer"])
    data = training_files.create_file(user=provider, filename="d.jsonl", purpose="fine-tune",
                                      data=b'{"text": "a"}\n' * 10)  # fmt: skip
    job = fine_tuning_job(owner=provider, commit=commit, base_label="x",
                                       data=data, seed=1, estimated_tokens=10,
                                       method={"type": "supervised", "supervised": {"hyperparameters": {}}})  # fmt: skip
    evaluation = Eval.objects.create(
        owner=provider, name="secret eval", item_schema={"type": "object", "properties": {}}
    )
    run = Job.objects.create(public_id=new_id(kinds.get("evalrun")), kind="evalrun", owner=provider, base_label="x",
                             params={"eval_id": evaluation.public_id, "model": "alice/secret", "template": [],
                                     "sampling": {}, "items": [{}], "source": {}}, status="succeeded")  # fmt: skip
    item = OutputItem.objects.create(run=run, eval=evaluation, datasource_item_id=0, status="pass")
    registry.create_model(owner=outsider, name="mine")
    _, other_secret = accounts.create_api_key(user=outsider, name="other", scopes=["read", "write", "infer"])
    return {"sha": commit.sha, "upload": upload.pk, "key": key.pk, "owner_secret": owner_secret,
            "other_secret": other_secret, "file": data.public_id, "job": job.public_id, "eval": evaluation.public_id,
            "run": run.public_id, "item": item.public_id}  # fmt: skip


def snapshot() -> list:
    """Everything a request could change, column for column (a key's last use is not a change to it)."""
    tables = [Model, Commit, FileEntry, Ref, Blob, UploadSession, Listing, PriceCard, Account, LedgerEntry,
              Reservation, UsageRecord, TrainingFile, FineTuningJob, Job, JobFile, JobEvent, JobCheckpoint,
              Evaluation, Eval, OutputItem, XetToken, Xorb, XetFile]  # fmt: skip
    rows = [list(table.objects.order_by("pk").values_list()) for table in tables]
    rows.append(list(ApiKey.objects.order_by("pk").values_list("pk", "name", "scopes", "revoked_at", "expires_at")))
    return rows


def address(row: Row, world: dict, *, missing: bool) -> tuple[str, str | None]:
    values = {"repo": MISSING if missing else SECRET, "sha": world["sha"], "upload": 999_999 if missing else world[
        "upload"], "key": 999_999 if missing else world["key"],
        "file": "file-000000000000000000000000" if missing else world["file"],
        "job": "ftjob-000000000000000000000000" if missing else world["job"],
        "eval": "eval_000000000000000000000000" if missing else world["eval"],
        "run": "evalrun_000000000000000000000000" if missing else world["run"],
        "item": "outputitem_000000000000000000000000" if missing else world["item"]}  # fmt: skip
    values["repo_body"] = repo_body(values["repo"])
    return fill(row.url, values), fill(row.body, values) if row.body else None


def fill(template: str, values: dict) -> str:
    for name, value in values.items():
        template = template.replace(f"{{{name}}}", str(value))
    return template


def ask(client: Client, method: str, url: str, body: str | None, content_type: str, secret: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    if method in ("GET", "HEAD"):
        return getattr(client, method.lower())(url, **headers)
    return client.generic(method, url, body or "", content_type=content_type, **headers)


def normalized(response) -> tuple[int, str]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = content.decode(errors="replace").replace(SECRET, "<repo>").replace(MISSING, "<repo>")
    text = re.sub(r"\b(file|ftjob)-[0-9a-f]{24}\b", r"\1-<id>", text)
    text = re.sub(r"\b(eval|evalrun|outputitem)_[0-9a-f]{24}\b", r"\1_<id>", text)
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "<csrf token>", text)  # masked anew on every page
    return response.status_code, text.replace("secret", "<name>").replace("nothing", "<name>")


IDENTITIES = ("other user's key", "other user's session", "anonymous")


@pytest.mark.parametrize("route", sorted(PRIVATE))
def test_foreign_identities_get_a_missing_objects_answer_and_change_nothing(route, world, outsider, provider):
    row = PRIVATE[route]
    cells, failures = 0, []
    for identity in IDENTITIES:
        client = Client(raise_request_exception=False)
        secret = world["other_secret"] if identity == "other user's key" else None
        if identity == "other user's session":
            client.force_login(outsider)
        for method in METHODS:
            url, body = address(row, world, missing=False)
            missing_url, missing_body = address(row, world, missing=True)
            before = snapshot()
            answer = normalized(ask(client, method, url, body, row.content_type, secret))
            after = snapshot()
            expected = normalized(ask(client, method, missing_url, missing_body, row.content_type, secret))
            cells += 1
            if answer != expected:
                failures.append(f"{identity} {method} {url}: {answer[0]} {answer[1][:120]!r} != missing's "
                                f"{expected[0]} {expected[1][:120]!r}")  # fmt: skip
            elif answer[0] == 200 or (answer[0] < 300 and method != "HEAD"):
                failures.append(f"{identity} {method} {url}: answered {answer[0]}")
            if before != after:
                failures.append(f"{identity} {method} {url}: changed the database")
    assert failures == [], "\n".join(failures)
    assert cells == len(IDENTITIES) * len(METHODS)


@pytest.mark.parametrize("route", sorted(name for name, row in PRIVATE.items() if row.scope))
def test_the_owners_key_without_the_scope_gets_403_and_changes_nothing(route, world, provider):
    row = PRIVATE[route]
    others = [scope for scope in ("read", "write", "infer") if scope != row.scope]
    _, secret = accounts.create_api_key(user=provider, name="narrow", scopes=others)
    url, body = address(row, world, missing=False)
    client = Client(raise_request_exception=False)
    method = "POST" if row.body and route not in ("hf-settings", "hf-delete-repo") else "GET"
    method = {"hf-settings": "PUT", "hf-delete-repo": "DELETE", "api-key-detail": "DELETE"}.get(route, method)

    before = snapshot()
    response = ask(client, method, url, body, row.content_type, secret)

    assert response.status_code == 403, (method, url, response.content[:200])
    assert f"lacks the '{row.scope}' scope" in response.content.decode()
    assert snapshot() == before
