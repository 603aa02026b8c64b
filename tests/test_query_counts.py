"""List endpoints and pages run a fixed number of queries, however many rows they show (no query per row)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as accounts
from marketplace.models import Listing
from marketplace.services import listings
from registry import services as registry
from registry.models import Commit, Model, ValidationStatus
from tests.conftest import record_evaluation

pytestmark = pytest.mark.django_db


def add_models(owner, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        model = registry.create_model(owner=owner, name=f"m{index}")
        blob = registry.ingest_upload(user=owner, incoming_stream=[f"{index}".encode()], size=len(f"{index}"))
        commit = registry.commit_changes(model_id=model.pk, author=owner, message="x",
                                         operations=[registry.AddFile("config.json", blob)])  # fmt: skip
        Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.VALID)
        record_evaluation(commit)
        listings.publish_now(model=model, prompt_price="1", completion_price="1", title=f"M{index}")


def queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:200]
    return len(captured)


@pytest.mark.parametrize(
    ("url", "expected"),
    [("/v1/models", 2), ("/api/models", 3), ("/api/keys", 2), ("/api/v1/usage?group_by=model", 2)],
)
def test_api_lists_run_the_same_queries_for_3_or_9_rows(client, provider, url, expected, settings):
    settings.REVIEW_LISTINGS = False
    key = accounts.create_api_key(user=provider, name="k0", scopes=["read", "write", "infer"])[1]
    add_models(provider, 3)
    for index in range(1, 3):
        accounts.create_api_key(user=provider, name=f"k{index}", scopes=["read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    queries(client, url, **auth)  # the key's first use also records its last use: not part of the count
    few = queries(client, url, **auth)
    add_models(provider, 6, start=3)
    for index in range(3, 9):
        accounts.create_api_key(user=provider, name=f"k{index}", scopes=["read"])

    assert few == queries(client, url, **auth) == expected


# the header counts unread notifications: one query on every signed-in page; a model page lists its derived models,
# its evaluation panel reads the commit's and its parent's results in one query and its latest job in another, and its
# lineage panel walks the family in one (and, for a model with relatives, their models and figures in two more)
@pytest.mark.parametrize(("url", "expected"), [("/alice/m0", 12), ("/settings/keys", 5)])
def test_pages_run_the_same_queries_for_3_or_9_rows(client, provider, url, expected, settings):
    settings.REVIEW_LISTINGS = False
    add_models(provider, 3)
    for index in range(3):
        accounts.create_api_key(user=provider, name=f"k{index}", scopes=["read"])
    client.force_login(provider)
    few = queries(client, url)
    add_models(provider, 6, start=3)
    for index in range(3, 9):
        accounts.create_api_key(user=provider, name=f"k{index}", scopes=["read"])

    assert few == queries(client, url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [("/", 6), ("/models", 5), ("/models?q=M1&sort=cheapest&access=call&license=other", 5), ("/alice", 5),
     ("/api/v1/listings?sort=fastest", 3)],
)  # fmt: skip
def test_storefront_runs_the_same_queries_for_3_or_9_listings(client, provider, url, expected, settings):
    """Each page of cards is two queries (the sorted ids, then those rows: catalogue.cards). The catalogue: count,
    page, two facet lists; home: three rows (featured, trending, newest); a provider: user, count, page, total;
    rendered afresh (the page cache is off here; test_a_cached_page_runs_no_query covers it)."""
    settings.REVIEW_LISTINGS, settings.STOREFRONT_CACHE_SECONDS = False, 0
    add_models(provider, 3)
    Listing.objects.filter(model__name="m0").update(featured=True)
    few = queries(client, url)
    add_models(provider, 6, start=3)

    assert few == queries(client, url) == expected


def test_a_cached_page_runs_no_query_until_a_listing_changes(client, provider, settings):
    settings.REVIEW_LISTINGS = False
    add_models(provider, 3)
    assert queries(client, "/models?sort=newest") == 5  # count, page (2), facets (2)
    assert queries(client, "/models?sort=newest") == 0
    assert queries(client, "/models?sort=cheapest") == 3  # the filters' lists come from the cache too
    assert queries(client, "/") == 5  # three rows, the featured one empty
    assert queries(client, "/") == 0

    add_models(provider, 1, start=3)  # publishing changes the catalogue (its filters' lists may lag a minute)

    assert queries(client, "/models?sort=newest") == 3
    assert ">M3</a></h3>" in client.get("/models?sort=newest").content.decode()


def test_visitors_get_the_model_page_from_the_cache_until_it_changes(client, provider, settings):
    settings.REVIEW_LISTINGS = False
    add_models(provider, 1)
    first = queries(client, "/alice/m0")
    assert first > 0 and queries(client, "/alice/m0") == 0
    model = Model.objects.get(name="m0")
    blob = registry.ingest_upload(user=provider, incoming_stream=[b"# New card"], size=10)
    commit = registry.commit_changes(model_id=model.pk, author=provider, message="card",
                                     operations=[registry.AddFile("README.md", blob)])  # fmt: skip

    assert queries(client, "/alice/m0") == first  # a push changes the page: rendered afresh
    assert commit.sha[:12] in client.get("/alice/m0").content.decode()
    client.force_login(provider)
    assert queries(client, "/alice/m0") > 0  # signed-in users always get their own render
