"""The catalogue: search (PostgreSQL full text, ranked), every filter and sort, pages, the JSON twin, and the facts
each listing is found by (kept by marketplace.services.catalogue)."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services as accounts
from marketplace.models import ConsumerUsageDaily, Listing, ListingStats, UsageRecord
from marketplace.services import catalogue, listing_stats, listings
from registry import services as registry
from registry.validation import claim_validation, finish_validation
from tests.marketplace.conftest import publish

pytestmark = pytest.mark.django_db


def ids(query: dict) -> list[str]:
    return [listing.model.repo_id for listing in catalogue.listings(catalogue.parse_query(query))]


@pytest.fixture(autouse=True)
def _no_review(settings):
    settings.REVIEW_LISTINGS = False


@pytest.fixture
def shelf(provider, consumer):
    """Five listings that differ in every filterable way."""
    return {
        "poetry": publish(provider, "poetry-gpt", title="Poetry GPT", summary="Writes verse", category="writing",
                          tags=("verse", "english"), prices=("2", "4"), parameters=5_000_000),
        "coder": publish(provider, "coder", summary="Completes Python", category="code", tags=("python",),
                         license="apache-2.0", downloadable=True, prices=("0", "0"), parameters=120_000_000,
                         card="# Coder\n\nTrained on code; it can also write a little poetry."),
        "chat": publish(consumer, "chatty", summary="Small talk", category="chat", prices=("10", "30"),
                        parameters=50_000_000, arch="LlamaForCausalLM", context=2048),
        "coder-ft": publish(consumer, "coder-sql", summary="SQL", category="code", tags=("sql", "python"),
                            prices=("1", "1"), parameters=120_000_000,
                            lineage={"base_model": "alice/coder", "job": "ftjob-1"}),
        "big": publish(consumer, "big-one", summary="Large", prices=("3", "3"), parameters=2_000_000_000,
                       downloadable=True, card="---\nbase_model: alice/poetry-gpt\n---\n# Big\n"),
    }  # fmt: skip


def test_search_ranks_a_name_above_a_card_mention(shelf):
    assert ids({"q": "poetry"}) == ["alice/poetry-gpt", "alice/coder"]
    assert ids({"q": "python"}) == ["alice/coder", "bob/coder-sql"]  # summary and tag (B) beat a tag alone
    assert ids({"q": "nothing-like-this"}) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"category": "code"}, ["bob/coder-sql", "alice/coder"]),
        ({"tag": "python"}, ["bob/coder-sql", "alice/coder"]),
        ({"tag": ["python", "sql"]}, ["bob/coder-sql"]),
        ({"license": "apache-2.0"}, ["alice/coder"]),
        ({"access": "download"}, ["bob/big-one", "alice/coder"]),
        ({"access": "call"}, ["bob/coder-sql", "bob/chatty", "alice/poetry-gpt"]),
        ({"max_price": "3"}, ["bob/big-one", "bob/coder-sql", "alice/coder"]),
        ({"max_price": "0"}, ["alice/coder"]),
        ({"params": "lt10m"}, ["alice/poetry-gpt"]),
        ({"params": "10m-100m"}, ["bob/chatty"]),
        ({"params": "100m-1b"}, ["bob/coder-sql", "alice/coder"]),
        ({"params": "gt1b"}, ["bob/big-one"]),
        ({"arch": "LlamaForCausalLM"}, ["bob/chatty"]),
        ({"base": "alice/coder"}, ["bob/coder-sql"]),  # from the fine-tune's lineage
        ({"base": "alice/poetry-gpt"}, ["bob/big-one"]),  # from the card's base_model
        ({"category": "code", "access": "download", "q": "python"}, ["alice/coder"]),
    ],
)
def test_each_filter(shelf, query, expected):
    assert ids({"sort": "newest", **query}) == expected


def test_sorts(client, shelf, provider, consumer, outsider):
    today = timezone.now().date()

    def calls(listing, user, days_ago, count):
        ConsumerUsageDaily.objects.create(day=today - dt.timedelta(days=days_ago), user=user,
                                          model_label=listing.model.repo_id, requests=count)  # fmt: skip

    calls(shelf["chat"], outsider, 1, 5)  # 7 days: 5
    calls(shelf["poetry"], outsider, 20, 50)  # 30 days only: the most used, not trending
    calls(shelf["poetry"], consumer, 2, 2)
    calls(shelf["coder"], outsider, 0, 3)
    calls(shelf["coder"], provider, 0, 100)  # the provider's own calls do not count
    calls(shelf["big"], outsider, 31, 999)  # too old
    for model, tokens, ms in ((shelf["chat"].model, 300, 1000), (shelf["coder"].model, 100, 2000)):
        UsageRecord.objects.create(request_id=f"r-{model.pk}", user=outsider, model=model, model_label=model.repo_id,
                                   commit_sha="0" * 40, prompt_tokens=1, completion_tokens=tokens, cost=0,
                                   latency_ms=ms)  # fmt: skip

    assert listing_stats.refresh_usage() == 3
    stats = {s.listing.model.name: (s.calls_7d, s.calls_30d, s.tokens_per_second)
             for s in ListingStats.objects.select_related("listing__model")}  # fmt: skip
    assert stats == {"poetry-gpt": (2, 52, None), "coder": (3, 3, 50.0), "chatty": (5, 5, 300.0),
                     "coder-sql": (0, 0, None), "big-one": (0, 0, None)}  # fmt: skip
    assert listing_stats.refresh_usage() == 0  # nothing changed
    counted = listing_stats.usage_counted_at()  # and the pages say when they were counted (issue #23)
    assert counted is not None and abs((timezone.now() - counted).total_seconds()) < 60
    note = f"Calls and speeds counted at {counted:%H:%M} UTC on {counted.day} {counted:%b}; recounted every 5 minutes."
    assert note in client.get("/models").content.decode()
    assert note in client.get("/alice/coder").content.decode()
    assert ids({}) == ["bob/chatty", "alice/coder", "alice/poetry-gpt", "bob/big-one", "bob/coder-sql"]
    assert ids({"sort": "popular"}) == ["alice/poetry-gpt", "bob/chatty", "alice/coder", "bob/big-one",
                                        "bob/coder-sql"]  # fmt: skip
    assert ids({"sort": "cheapest"}) == ["alice/coder", "bob/coder-sql", "alice/poetry-gpt", "bob/big-one",
                                         "bob/chatty"]  # fmt: skip
    assert ids({"sort": "fastest"}) == ["bob/chatty", "alice/coder", "bob/big-one", "bob/coder-sql",
                                        "alice/poetry-gpt"]  # fmt: skip
    assert ids({"sort": "newest"}) == ["bob/big-one", "bob/coder-sql", "bob/chatty", "alice/coder",
                                       "alice/poetry-gpt"]  # fmt: skip


def test_only_published_public_listings_are_found(shelf, provider):
    listings.unpublish_listing(listing_id=shelf["poetry"].pk, by=provider)
    listings.review_listing(listing_id=shelf["chat"].pk, approve=False, reason="spam")
    registry.set_visibility(model_id=shelf["big"].model_id, is_private=True)

    assert ids({"sort": "newest"}) == ["bob/coder-sql", "alice/coder"]
    assert ids({"q": "poetry"}) == ["alice/coder"]


def test_facts_follow_a_newly_validated_commit(shelf, provider):
    model = shelf["poetry"].model
    commit = registry.commit_card(model_id=model.pk, author=provider, content="---\nbase_model: x/y\n---\nsonnets")
    assert claim_validation(commit_id=commit.pk, task_id="t1")
    assert ListingStats.objects.get(pk=shelf["poetry"].pk).commit_sha != commit.sha

    finish_validation(commit_id=commit.pk, task_id="t1", report={"parameters": 7, "context_length": 64,
                                                                   "architecture": "GPT2LMHeadModel"})  # fmt: skip

    stats = ListingStats.objects.get(pk=shelf["poetry"].pk)
    assert (stats.commit_sha, stats.parameters, stats.context_length, stats.base_model, stats.card_text) == (
        commit.sha, 7, 64, "x/y", "sonnets")  # fmt: skip
    assert ids({"q": "sonnets"}) == ["alice/poetry-gpt"]


def seed_filler(owner, count: int) -> None:
    """`count` published listings whose text matches nothing the tests search for, in three statements."""
    from registry.models import Model

    models = Model.objects.bulk_create([Model(owner=owner, name=f"filler-{n}") for n in range(count)])
    made = Listing.objects.bulk_create([Listing(model=model, title=f"Filler {n}", status="published",
                                                published_at=timezone.now()) for n, model in enumerate(models)])  # fmt: skip
    ListingStats.objects.bulk_create([ListingStats(listing=listing) for listing in made])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE marketplace_listingstats SET search_vector = to_tsvector('english', 'filler text') "
                       "WHERE search_vector IS NULL")  # fmt: skip
        cursor.execute("ANALYZE marketplace_listingstats")
        cursor.execute("ANALYZE marketplace_listing")


def test_search_uses_the_gin_index(shelf, outsider):
    assert connection.vendor == "postgresql"
    seed_filler(outsider, 2000)

    plan = catalogue.listings(catalogue.parse_query({"q": "poetry"})).explain()

    assert "Bitmap Index Scan on marketplace_listingstats_search_gin" in plan, plan
    assert ids({"q": "poetry"}) == ["alice/poetry-gpt", "alice/coder"]


def test_pages_keep_the_filters(client, provider):
    for number in range(catalogue.PAGE_SIZE + 3):
        publish(provider, f"m{number:02d}", tags=("bulk",))
    publish(provider, "other")

    first = client.get("/models", {"tag": "bulk", "sort": "newest"})
    second = client.get("/models", {"tag": "bulk", "sort": "newest", "page": 2})

    assert (first.status_code, second.status_code) == (200, 200)
    assert [listing.model.name for listing in second.context["page"]] == ["m02", "m01", "m00"]
    assert 'href="?tag=bulk&amp;sort=newest&amp;page=2"' in first.content.decode()
    assert "27 models" in first.content.decode()


@pytest.mark.parametrize(
    ("query", "param"),
    [("sort=best", "sort"), ("category=toys", "category"), ("max_price=cheap", "max_price"), ("params=huge", "params"),
     ("page=0", "page"), ("tag=Bad%20Tag", "tag"), ("access=free", "access"), ("license=%3Cscript%3E", "license")],
)  # fmt: skip
def test_bad_parameters_are_named(client, shelf, query, param):
    page = client.get(f"/models?{query}")
    api = client.get(f"/api/v1/listings?{query}")

    assert page.status_code == 400
    assert 'role="alert"' in page.content.decode()
    assert api.status_code == 400
    assert api.json()["error"]["param"] == param


def test_the_json_twin(client, shelf):
    body = client.get("/api/v1/listings", {"category": "code", "sort": "cheapest"}).json()

    assert (body["object"], body["total"], body["page"], body["pages"], body["sort"]) == ("list", 2, 1, 1, "cheapest")
    assert (body["next"], body["previous"]) == (None, None)
    coder = body["data"][0]
    assert coder == {
        "id": "alice/coder", "title": "coder", "summary": "Completes Python", "provider": "alice",
        "category": "code", "tags": ["python"], "license": "apache-2.0", "downloadable": True,
        "created": int(Listing.objects.get(pk=shelf["coder"].pk).published_at.timestamp()),
        "pricing": {"prompt": "0", "completion": "0", "download": "0.000000"},
        "parameters": 120_000_000, "context_length": 256, "architecture": "GPT2LMHeadModel", "base_model": "",
        "calls_7d": 0, "calls_30d": 0, "tokens_per_second": None, "rating": None, "rating_count": 0,
    }  # fmt: skip
    assert body["data"][1]["pricing"] == {"prompt": "0.000001", "completion": "0.000001", "download": "0.000000"}


def test_v1_models_carries_openrouter_fields(client, shelf, consumer, make_key):
    secret = make_key(consumer, scopes=("infer",))
    entries = {m["id"]: m for m in client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["data"]}

    assert entries["bob/chatty"]["pricing"] == {"prompt": "0", "completion": "0"}  # bob's own: free to bob
    assert entries["alice/poetry-gpt"]["pricing"] == {"prompt": "0.000002", "completion": "0.000004"}
    assert entries["alice/poetry-gpt"]["context_length"] == 256
    assert entries["alice/poetry-gpt"]["description"] == "Writes verse"
    assert entries["alice/poetry-gpt"]["architecture"]["model_class"] == "GPT2LMHeadModel"
    one = client.get("/v1/models/bob/chatty", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert (one["context_length"], one["name"]) == (2048, "chatty")


def test_provider_profile(client, shelf, provider):
    page = client.get("/alice")

    assert page.status_code == 200
    assert [listing.model.name for listing in page.context["page"]] == ["coder", "poetry-gpt"]
    assert "2 published models" in page.content.decode()
    assert client.get("/nobody-here").status_code == 404
    accounts.create_user(username="carol", email="c@example.com", password="x" * 12)
    assert "carol has no published models yet" in client.get("/carol").content.decode()


def test_search_redirects_to_the_catalogue(client):
    response = client.get("/search", {"q": "chat bot"})
    assert (response.status_code, response["Location"]) == (302, "/models?q=chat+bot")
