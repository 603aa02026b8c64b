"""Every kind of name the store takes refuses control characters, trailing or embedded (issue #22, item 3):
`re.match` with `$` accepted a final newline ("trailing\\n"), which then named a repository, file or fine-tune
that no URL could reach. Each test tries names that are valid but for one control character."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services as accounts
from accounts.models import User
from accounts.serializers import ApiKeyCreateSerializer
from core.exceptions import InvalidInput
from registry import services
from registry.models import Model, Ref
from registry.paths import check_repo_path
from training import kinds as jobs  # the fine-tuning kinds check the suffix

pytestmark = pytest.mark.django_db

CONTROL = st.sampled_from([chr(code) for code in range(32)] + ["\x7f"])
BASE = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@st.composite
def with_control(draw, base=BASE):
    """A valid name with one control character at its end or inside it."""
    name, control = draw(base), draw(CONTROL)
    at = draw(st.sampled_from([len(name), draw(st.integers(1, max(1, len(name) - 1)))]))
    return name[:at] + control + name[at:]


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_unmodified_names_are_accepted(provider):
    """The bases below are valid: each refusal in this file is for the control character alone."""
    model = services.create_model(owner=provider, name="plain")
    blob = services.ingest_upload(user=provider, incoming_stream=[b"x"], size=1)
    services.commit_changes(model_id=model.pk, author=provider, operations=[services.AddFile("a.txt", blob)],
                            message="first")  # fmt: skip

    assert check_repo_path("dir/notes.txt") == "dir/notes.txt"
    assert services.create_tag(model_id=model.pk, name="v1", revision="main").name == "v1"
    assert jobs.checked_suffix("nl") == "nl"
    assert accounts.create_user(username="bob", password="a long pass phrase").username == "bob"
    assert ApiKeyCreateSerializer(data={"name": "ci", "scopes": ["read"]}).is_valid()


@FAST
@given(name=with_control())
def test_a_repository_name_with_a_control_character_is_refused(provider, name):
    with pytest.raises(InvalidInput):
        services.create_model(owner=provider, name=name)
    assert Model.objects.count() == 0  # (a filter by a name holding NUL would itself fail on PostgreSQL)


@FAST
@given(name=with_control())
def test_a_username_with_a_control_character_is_refused(name):
    before = User.objects.count()
    with pytest.raises(InvalidInput):
        accounts.create_user(username=name, password="a long pass phrase")
    assert User.objects.count() == before


@FAST
@given(path=st.one_of(with_control(), with_control().map(lambda folder: f"{folder}/file.txt"),
                      with_control().map(lambda name: f"dir/{name}.txt")))  # fmt: skip
def test_a_file_path_with_a_control_character_is_refused(path):
    with pytest.raises(InvalidInput):
        check_repo_path(path)


@FAST
@given(name=with_control())
def test_a_tag_with_a_control_character_is_refused(provider, name):
    model, _ = Model.objects.get_or_create(owner=provider, name="tagged")
    if not Ref.objects.filter(model=model).exists():
        blob = services.ingest_upload(user=provider, incoming_stream=[b"x"], size=1)
        services.commit_changes(model_id=model.pk, author=provider, operations=[services.AddFile("a.txt", blob)],
                                message="first")  # fmt: skip

    with pytest.raises(InvalidInput):
        services.create_tag(model_id=model.pk, name=name, revision="main")
    assert list(Ref.objects.filter(model=model).values_list("name", flat=True)) == ["main"]


@FAST
@given(suffix=with_control())
def test_a_fine_tune_suffix_with_a_control_character_is_refused(suffix):
    with pytest.raises(InvalidInput) as refused:
        jobs.checked_suffix(suffix)
    assert refused.value.param == "suffix"


@FAST
@given(name=with_control(base=st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,10}[a-z]", fullmatch=True)))
def test_an_api_key_name_with_a_control_character_is_refused(name):
    form = ApiKeyCreateSerializer(data={"name": name, "scopes": ["read"]})

    assert not form.is_valid()
    assert list(form.errors) == ["name"]


@pytest.mark.parametrize("name", ["trailing\n", "a\nb", "x\r", "tab\t"])
def test_a_model_name_with_a_newline_fails_the_model_validator_too(name):
    """The field's own validator (forms and admin use it) agrees with the service."""
    from registry.models import model_name_validator

    with pytest.raises(ValidationError):
        model_name_validator(name)
