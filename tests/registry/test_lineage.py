"""Lineage as data (#24): a commit made from another points to it by a foreign key with a typed relation, and a
model's ancestors and descendants are each one query away. Commits that training jobs made before keep their
lineage JSON, from which migration 0006 links them."""

import importlib

import pytest
from django.apps import apps

from accounts.models import User
from registry import lineage
from registry import services as registry
from registry.models import BaseRelation, Commit
from tests.marketplace.conftest import add_commit

pytestmark = pytest.mark.django_db


def derived(owner: User, name: str, base: Commit, relation: str) -> Commit:
    commit = add_commit(registry.create_model(owner=owner, name=name))
    commit.base_commit, commit.base_relation = base, relation
    commit.save()
    return commit


@pytest.fixture
def family(provider, consumer, outsider):
    """alice/base <- bob/ft (finetune) <- mallory/ft-q (quantized); alice/base <- mallory/pruned (pruned)."""
    base = add_commit(registry.create_model(owner=provider, name="base"))
    tuned = derived(consumer, "ft", base, BaseRelation.FINETUNE)
    quantized = derived(outsider, "ft-q", tuned, BaseRelation.QUANTIZED)
    pruned = derived(outsider, "pruned", base, BaseRelation.PRUNED)
    return base, tuned, quantized, pruned


def test_ancestors_are_walked_nearest_first_in_one_query(family, django_assert_num_queries):
    base, tuned, quantized, _ = family

    with django_assert_num_queries(1):
        found = [(c, c.depth, c.repo_id, c.base_relation) for c in lineage.ancestors(quantized)]

    assert found == [(tuned, 1, f"{tuned.model.owner.username}/ft", "finetune"),
                     (base, 2, f"{base.model.owner.username}/base", "")]  # fmt: skip
    assert lineage.ancestors(base) == []


def test_descendants_of_a_model_are_walked_nearest_first_in_one_query(family, django_assert_num_queries):
    base, tuned, quantized, pruned = family
    add_commit(base.model, message="a later commit of the base, which nothing derives from")

    with django_assert_num_queries(1):
        found = [(c, c.depth, c.base_relation) for c in lineage.descendants(base.model)]

    assert found == [(tuned, 1, "finetune"), (pruned, 1, "pruned"), (quantized, 2, "quantized")]
    assert lineage.descendants(quantized.model) == []


def test_deleting_a_base_keeps_what_derives_from_it(family):
    base, tuned, _, _ = family

    registry.delete_model(model_id=base.model_id)  # the base's owner deletes the repository

    tuned.refresh_from_db()
    assert (tuned.base_commit, tuned.base_relation) == (None, "finetune")


def test_migration_0006_links_the_commits_that_jobs_made_before_it(provider):
    base = add_commit(registry.create_model(owner=provider, name="base"))
    tuned = add_commit(registry.create_model(owner=provider, name="ft"))
    tuned.lineage = {"base_model": "alice/base", "parent_commit": base.sha, "job": "ftjob-1"}
    scratch = add_commit(registry.create_model(owner=provider, name="scratch"))
    scratch.lineage = {"base_model": None, "preset": "tiny", "vocab_size": 400, "job": "ftjob-2"}
    uploaded = add_commit(registry.create_model(owner=provider, name="uploaded"))
    uploaded.lineage = {"note": "not made by a job"}
    for commit in (tuned, scratch, uploaded):
        commit.save()
    migration = importlib.import_module("registry.migrations.0006_lineage_as_data")

    migration.link_existing(apps, None)

    linked = {c.pk: (c.base_commit_id, c.base_relation) for c in Commit.objects.all()}
    assert linked == {base.pk: (None, ""), tuned.pk: (base.pk, "finetune"), scratch.pk: (None, "pretrain"),
                      uploaded.pk: (None, "")}  # fmt: skip


def test_a_model_page_lists_the_models_derived_from_it_that_the_viewer_may_see(client, family):
    base, tuned, _, _ = family
    private = derived(tuned.model.owner, "ft-private", base, BaseRelation.FINETUNE)
    private.model.is_private = True
    private.model.save()

    page = client.get("/alice/base").content.decode()  # signed out

    derived_from = page[page.index('id="derived"') : page.index("</aside>", page.index('id="derived"'))]
    assert " ".join(derived_from.split()) == (
        'id="derived">Models derived from this one: <strong>Fine-tunes</strong> (1): <a href="/bob/ft">bob/ft</a>; '
        '<strong>Pruned</strong> (1): <a href="/mallory/pruned">mallory/pruned</a>'
    )  # the quantization of bob/ft is a grandchild; bob's private fine-tune does not exist for visitors
    client.force_login(tuned.model.owner)
    assert '<a href="/bob/ft-private">bob/ft-private</a>' in client.get("/alice/base").content.decode()
    assert 'id="derived"' not in client.get("/mallory/pruned").content.decode()
