"""GET /api/v1/models/{ns}/{name}/lineage and the model page's lineage panel: ancestors and descendants of a model
with the store's figures, a private relative left out for everyone but those who may see it, a private model 404,
the trade-off of a compressed commit only against a parent measured on the same device, in a fixed number of
queries whatever the size of the family."""

import pytest
from rest_framework.test import APIClient

from registry import services as registry
from registry.models import BaseRelation, Commit
from tests.conftest import record_evaluation
from tests.marketplace.conftest import add_commit

pytestmark = pytest.mark.django_db


def derived(owner, name: str, base: Commit, relation: str, *, private=False, **figures) -> Commit:
    commit = add_commit(registry.create_model(owner=owner, name=name, is_private=private), evaluated=False)
    commit.base_commit, commit.base_relation = base, relation
    commit.save()
    record_evaluation(commit, **figures)
    return commit


@pytest.fixture
def family(provider, consumer):
    """alice/base <- alice/base-int8 (quantized) <- bob/tuned (finetune); alice/base <- bob/secret (pruned, private)."""
    base = add_commit(registry.create_model(owner=provider, name="base"), evaluated=False)
    record_evaluation(base, parameters=1000, weight_bytes=4000, bits_per_byte=2.0, tokens_per_second_b8=100.0)
    quantized = derived(provider, "base-int8", base, BaseRelation.QUANTIZED, parameters=1000, weight_bytes=1200,
                        bits_per_byte=2.02, tokens_per_second_b8=110.0)  # fmt: skip
    tuned = derived(consumer, "tuned", quantized, BaseRelation.FINETUNE, parameters=1000, weight_bytes=1200)
    secret = derived(consumer, "secret", base, BaseRelation.PRUNED, private=True, parameters=600)
    return base, quantized, tuned, secret


def test_the_lineage_of_a_compressed_model_with_its_trade_off(family):
    base, quantized, _, _ = family
    body = APIClient().get("/api/v1/models/alice/base-int8/lineage").json()
    assert body["model"] == "alice/base-int8" and body["commit"] == quantized.sha
    assert [(n["id"], n["relation"], n["depth"], n["base_model"]) for n in body["ancestors"]] == [
        ("alice/base", None, -1, None)]  # fmt: skip
    assert [(n["id"], n["relation"], n["depth"], n["base_model"]) for n in body["descendants"]] == [
        ("bob/tuned", "finetune", 1, "alice/base-int8")]  # fmt: skip
    assert body["ancestors"][0]["figures"] == {"parameters": 1000, "weight_bytes": 4000, "bits_per_byte": 2.0,
                                               "tokens_per_second_b8": 100.0, "perplexity": 30.0,
                                               "tokens_per_second_b1": 50.0}  # fmt: skip
    assert body["tradeoff"] == {
        "parent": f"alice/base@{base.sha}", "same_device": True, "device": "cpu: test",
        "rows": [{"key": "weight_bytes", "value": "0.00 MB", "parent": "0.00 MB", "ratio": "0.30×"},
                 {"key": "parameters", "value": "1,000", "parent": "1,000", "ratio": "1.00×"},
                 {"key": "tokens_per_second_b1", "value": "50.0", "parent": "50.0", "ratio": "1.00×"},
                 {"key": "tokens_per_second_b8", "value": "110.0", "parent": "100.0", "ratio": "1.10×"},
                 {"key": "bits_per_byte", "value": "2.0200", "parent": "2.0000", "ratio": "1.01×"},
                 {"key": "perplexity", "value": "30.00", "parent": "30.00", "ratio": "1.00×"}],
    }  # fmt: skip


def test_a_private_relative_is_left_out_for_others_and_a_private_model_is_not_found(family, consumer, outsider):
    anonymous = APIClient().get("/api/v1/models/alice/base/lineage").json()
    assert [n["id"] for n in anonymous["descendants"]] == ["alice/base-int8", "bob/tuned"]
    assert anonymous["tradeoff"] is None  # alice/base is compressed from nothing
    owner = APIClient()
    owner.force_authenticate(consumer)
    assert [n["id"] for n in owner.get("/api/v1/models/alice/base/lineage").json()["descendants"]] == [
        "alice/base-int8", "bob/secret", "bob/tuned"]  # fmt: skip
    stranger = APIClient()
    stranger.force_authenticate(outsider)
    answer = stranger.get("/api/v1/models/bob/secret/lineage")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "repo_not_found", answer.json()
    assert owner.get("/api/v1/models/bob/secret/lineage").json()["tradeoff"]["rows"][1]["ratio"] == "0.60×"


def test_no_ratio_across_devices(family):
    _, quantized, _, _ = family
    quantized.evaluations.update(device="cuda: NVIDIA H100")
    body = APIClient().get("/api/v1/models/alice/base-int8/lineage").json()
    assert body["tradeoff"]["same_device"] is False
    assert {row["ratio"] for row in body["tradeoff"]["rows"]} == {"—"}


def test_the_model_page_reads_a_family_in_the_same_queries_whatever_its_size(client, family, provider):
    base = family[0]
    client.force_login(provider)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get("/alice/base").status_code == 200
        return len(captured)

    few = count()
    for index in range(6):
        derived(provider, f"more-{index}", base, BaseRelation.DISTILLED, parameters=100 + index)
    page = client.get("/alice/base").content.decode()
    assert count() == few
    assert page.count('<li class="depth-1">') == 7  # base-int8 and 6 more; bob/secret is not alice's to see
    assert '<li class="depth-2">' in page  # bob/tuned, through base-int8
