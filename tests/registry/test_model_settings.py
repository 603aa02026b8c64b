"""The model settings page: description and visibility (the services behind the HF settings route) and deletion,
for the owner only; a model other records need is refused whole, on the page and on the HF route."""

import pytest

from files import services as files
from registry import services as registry
from registry.models import Commit, Model
from tests.conftest import PASSWORD
from tests.marketplace.conftest import add_commit
from tests.training.rows import fine_tuning_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(provider):
    made = registry.create_model(owner=provider, name="tiny-gpt")
    add_commit(made)
    return made


def test_the_owner_sets_description_and_visibility(client, model):
    client.login(username="alice", password=PASSWORD)
    response = client.post("/alice/tiny-gpt/settings", {"save": "1", "description": "  A tiny   GPT.  ",
                                                         "is_private": "on"})  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, "/alice/tiny-gpt/settings")
    model.refresh_from_db()
    assert (model.description, model.is_private) == ("A tiny GPT.", True)
    assert "A tiny GPT." in client.get("/alice/tiny-gpt").content.decode()

    too_long = client.post("/alice/tiny-gpt/settings", {"save": "1", "description": "x" * 301})
    assert too_long.status_code == 200 and "at most 300 characters" in too_long.content.decode()
    model.refresh_from_db()
    assert model.description == "A tiny GPT."


def test_others_get_404_and_change_nothing(client, model, consumer):
    client.login(username="bob", password=PASSWORD)
    assert client.get("/alice/tiny-gpt/settings").status_code == 404
    assert client.post("/alice/tiny-gpt/settings", {"delete": "1", "confirm": "alice/tiny-gpt"}).status_code == 404
    assert client.post("/alice/tiny-gpt/settings", {"save": "1", "is_private": "on"}).status_code == 404
    model.refresh_from_db()
    assert (model.is_private, Model.objects.count()) == (False, 1)


def test_deleting_needs_the_name_typed(client, model):
    client.login(username="alice", password=PASSWORD)
    wrong = client.post("/alice/tiny-gpt/settings", {"delete": "1", "confirm": "tiny-gpt"})
    assert wrong.status_code == 200 and "Type alice/tiny-gpt exactly." in wrong.content.decode()
    assert Model.objects.filter(pk=model.pk).exists()

    done = client.post("/alice/tiny-gpt/settings", {"delete": "1", "confirm": "alice/tiny-gpt"})
    assert (done.status_code, done["Location"]) == (302, "/")
    assert not Model.objects.filter(pk=model.pk).exists()


def test_a_fine_tuning_base_is_not_deleted(client, model, provider, make_key):
    commit = Commit.objects.get(model=model)
    data = files.create_file(user=provider, filename="d.jsonl", purpose="fine-tune", data=b'{"text": "a"}\n' * 10)
    fine_tuning_job(owner=provider, commit=commit, base_label="x",
                                 data=data, seed=1, estimated_tokens=10, method=None)  # fmt: skip
    client.login(username="alice", password=PASSWORD)

    page = client.post("/alice/tiny-gpt/settings", {"delete": "1", "confirm": "alice/tiny-gpt"})
    hub = client.delete("/api/repos/delete", {"name": "tiny-gpt", "organization": "alice"},
                        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {make_key(provider)}")  # fmt: skip

    assert page.status_code == 200
    assert "cannot be deleted while other records refer to it (jobs)" in page.content.decode()
    assert (hub.status_code, hub.json()["error"]) == (409, "this model cannot be deleted while other records refer to "
                                                             "it (jobs); make it private instead")  # fmt: skip
    assert Commit.objects.filter(model=model).count() == 1 and model.refs.count() == 1
