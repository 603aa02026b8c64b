"""/leaderboard and /api/v1/leaderboard: published listings with a verified result on the current standard set,
ranked by any column, filtered by size and downloadable weights, each row pinned to the evaluated commit."""

import pytest

from evaluation.models import Evaluation
from marketplace.models import Listing
from marketplace.services import listings
from tests.marketplace.conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(provider, consumer, settings):
    settings.REVIEW_LISTINGS = False
    figures = {  # name: (bits per byte, perplexity, tokens/s, parameters, prices, downloadable)
        "small": (2.5, 40.0, 300.0, 5_000_000, ("1", "1"), False),
        "medium": (1.9, 25.0, 120.0, 50_000_000, ("3", "5"), True),
        "large": (1.2, 12.0, 40.0, 500_000_000, ("10", "20"), True),
    }
    for name, (bpb, ppl, speed, params, prices, downloadable) in figures.items():
        listing = publish(provider if name != "large" else consumer, name, prices=prices, downloadable=downloadable)
        commit = listing.model.commits.get()
        Evaluation.objects.filter(commit=commit).update(metrics={"bits_per_byte": bpb, "perplexity": ppl,
                                                                 "tokens_per_second_b1": speed, "parameters": params})  # fmt: skip
    draft = publish(provider, "unpublished")
    listings.unpublish_listing(listing_id=draft.pk, by=provider)
    return figures


def ids(client, query=""):
    answer = client.get(f"/api/v1/leaderboard{query}")
    assert answer.status_code == 200, answer.content
    return [row["id"] for row in answer.json()["data"]]


def test_ranked_by_bits_per_byte_then_by_any_column(client, board):
    assert ids(client) == ["bob/large", "alice/medium", "alice/small"]
    assert ids(client, "?sort=speed") == ["alice/small", "alice/medium", "bob/large"]  # fastest first
    assert ids(client, "?sort=speed&order=asc") == ["bob/large", "alice/medium", "alice/small"]
    assert ids(client, "?sort=price") == ["alice/small", "alice/medium", "bob/large"]
    assert ids(client, "?sort=parameters&order=desc") == ["bob/large", "alice/medium", "alice/small"]
    assert ids(client, "?sort=perplexity") == ["bob/large", "alice/medium", "alice/small"]


def test_filters_by_size_and_downloadable(client, board):
    assert ids(client, "?params=10m-100m") == ["alice/medium"]
    assert ids(client, "?downloadable=1") == ["bob/large", "alice/medium"]
    assert ids(client, "?params=lt10m&downloadable=1") == []


def test_a_row_is_pinned_to_the_evaluated_commit_with_its_figures(client, board):
    row = client.get("/api/v1/leaderboard").json()["data"][0]
    large = Listing.objects.get(model__name="large")
    evaluation = Evaluation.objects.get(commit__model=large.model)
    assert row == {
        "id": "bob/large", "title": "large", "commit": evaluation.commit.sha, "dataset": evaluation.dataset,
        "device": "cpu: test", "verified": True, "bits_per_byte": 1.2, "perplexity": 12.0, "tokens_per_second": 40.0,
        "tokens_per_second_b8": None, "parameters": 500_000_000, "downloadable": True,
        "pricing": {"prompt_per_1m": "10.000000", "completion_per_1m": "20.000000"},
    }  # fmt: skip


def test_only_verified_results_on_the_current_set_count(client, board):
    Evaluation.objects.filter(commit__model__name="small").update(verified=False)
    Evaluation.objects.filter(commit__model__name="medium").update(dataset_sha256="0" * 64)  # another version's
    assert ids(client) == ["bob/large"]


@pytest.mark.parametrize("query", ["?sort=price_desc", "?order=up", "?params=huge", "?downloadable=yes"])
def test_a_bad_parameter_answers_400_on_both(client, board, query):
    api = client.get(f"/api/v1/leaderboard{query}")
    page = client.get(f"/leaderboard{query}")
    assert api.status_code == page.status_code == 400
    param = query[1:].split("=")[0]
    assert api.json()["error"]["param"] == param


def test_the_page_sorts_by_links_without_javascript(client, board):
    page = client.get("/leaderboard?sort=speed").content.decode()
    assert page.index("alice/small@") < page.index("alice/medium@") < page.index("bob/large@")
    assert 'href="?sort=speed&amp;order=asc"' in page  # the current column's link turns the order round
    assert 'href="?sort=bits_per_byte&amp;order=asc"' in page and 'aria-sort="descending"' in page
    assert "unpublished" not in page
