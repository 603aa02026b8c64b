"""The Evals API with the stock `openai` client: an eval with string_check and text_similarity graders, a run on a
published model from an uploaded `evals` file, run by the job worker's own code through a real infer worker; every
call is metered and charged exactly as a /v1 call; results, output items and the report page; bad input is a 400
naming the field, with nothing created and nothing charged."""

import json

import openai
import pytest
from django.test import Client

from engine import metrics
from evals.models import Eval, OutputItem
from jobs import leases, runner
from jobs.models import Job
from marketplace.models import AccountKind, Reservation, UsageRecord
from marketplace.money import MICRO, token_cost
from marketplace.services import ledger, listings

pytestmark = pytest.mark.django_db(transaction=True)
ROWS = [{"item": {"question": "Say hello", "answer": "hello"}}, {"item": {"question": "Count", "answer": "one two"}},
        {"item": {"question": "Name a colour", "answer": "blue"}}]  # fmt: skip
SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
          "required": ["question", "answer"]}  # fmt: skip
CRITERIA = [
    {"type": "string_check", "name": "mentions the answer", "input": "{{sample.output_text}}",
     "reference": "{{item.answer}}", "operation": "ilike"},
    {"type": "text_similarity", "name": "bleu", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "evaluation_metric": "bleu", "pass_threshold": 0.0},
    {"type": "text_similarity", "name": "rouge", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "evaluation_metric": "rouge_l", "pass_threshold": 0.5},
]  # fmt: skip
DATA_SOURCE = {"type": "completions", "model": "alice/tiny-gpt",
               "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.question}}"}]},
               "sampling_params": {"temperature": 0, "max_completion_tokens": 6}}  # fmt: skip


@pytest.fixture
def client(live_server, consumer, make_key, served_commit, infer_worker):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("read", "infer", "finetune")),
                         max_retries=0)  # fmt: skip


def run_jobs() -> None:
    while (job := leases.claim_job(worker=runner.WORKER, kind_names=("evalrun",))) is not None:
        runner.run_job(job)


def test_an_eval_round_trip_is_charged_exactly(client, consumer, live_server):
    made = client.evals.create(name="greetings", data_source_config={"type": "custom", "item_schema": SCHEMA},
                               testing_criteria=CRITERIA)  # fmt: skip
    assert made.id.startswith("eval_") and made.name == "greetings"
    assert client.evals.retrieve(made.id).testing_criteria[0].name == "mentions the answer"
    assert [e.id for e in client.evals.list().data] == [made.id]
    assert client.evals.update(made.id, name="hello evals").name == "hello evals"
    data = client.files.create(file=("rows.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS).encode()),
                               purpose="evals")  # fmt: skip
    run = client.evals.runs.create(made.id, name="first", data_source=DATA_SOURCE | {
        "source": {"type": "file_id", "id": data.id}})  # fmt: skip
    assert run.id.startswith("evalrun_") and run.status == "queued" and run.model == "alice/tiny-gpt"
    held = Reservation.objects.get(request_id=run.id).max_cost
    assert held > 0  # the upper bound, held when the run was created
    run_jobs()
    done = client.evals.runs.retrieve(run.id, eval_id=made.id)
    assert done.status == "completed"
    items = client.evals.runs.output_items.list(run.id, eval_id=made.id).data
    assert [item.datasource_item_id for item in items] == [0, 1, 2]
    stored = {item.datasource_item_id: item for item in OutputItem.objects.filter(run__public_id=run.id)}
    for item in items:
        output, answer = item.sample.output[0].content, ROWS[item.datasource_item_id]["item"]["answer"]
        grades = {result["name"]: result for result in stored[item.datasource_item_id].results}
        assert grades["mentions the answer"]["passed"] == (answer.lower() in output.lower())
        assert grades["bleu"]["score"] == pytest.approx(metrics.sentence_bleu(output, answer) / 100)
        assert grades["rouge"]["score"] == pytest.approx(metrics.rouge([output], [answer], types=("rougeL",))["rougeL"])
        assert item.status == ("pass" if all(r["passed"] for r in grades.values()) else "fail")
        assert stored[item.datasource_item_id].sample["usage"]["completion_tokens"] <= 6
    one = client.evals.runs.output_items.retrieve(items[1].id, eval_id=made.id, run_id=run.id)
    assert one.datasource_item == ROWS[1]["item"]
    passed = sum(item.status == "pass" for item in items)
    assert (done.result_counts.total, done.result_counts.passed, done.result_counts.failed,
            done.result_counts.errored) == (3, passed, 3 - passed, 0)  # fmt: skip
    tallies = {row.testing_criteria: (row.passed, row.failed) for row in done.per_testing_criteria_results}
    assert sum(tallies["bleu"]) == 3 and tallies["bleu"][0] == 3  # a threshold of 0 always passes

    records = UsageRecord.objects.filter(user=consumer).order_by("id")
    assert records.count() == 3  # one metered call per row, as /v1 calls
    expected = sum(token_cost(prompt_tokens=s["usage"]["prompt_tokens"], completion_tokens=s["usage"]["completion_tokens"],
                              prompt_price=2 * MICRO, completion_price=6 * MICRO)
                   for s in OutputItem.objects.filter(run__public_id=run.id).values_list("sample", flat=True))  # fmt: skip
    assert sum(record.cost for record in records) == expected
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO - expected, 0)
    assert done.per_model_usage[0].invocation_count == 3

    assert done.report_url == f"{live_server.url}/evals/{made.id}/runs/{run.id}"
    browser = Client()
    browser.force_login(consumer)
    report = browser.get(f"/evals/{made.id}/runs/{run.id}").content.decode()
    assert f'Eval run <code class="id">{run.id}</code>' in report and report.count("<tr><td>") == 3
    assert client.evals.runs.list(made.id).data[0].id == run.id
    assert client.evals.runs.delete(run.id, eval_id=made.id).deleted is True
    assert client.evals.delete(made.id).deleted is True
    assert Eval.objects.count() == 0 and Job.objects.filter(kind="evalrun").count() == 0


def _refused(call, param: str):
    with pytest.raises(openai.BadRequestError) as refused:
        call()
    assert refused.value.body["param"] == param, refused.value.body
    return refused.value.body["message"]


def test_bad_input_answers_400_naming_the_field_with_nothing_created_or_charged(client, provider, consumer, outsider,
                                                                                 make_key, served_commit):  # fmt: skip
    config = {"type": "custom", "item_schema": SCHEMA}
    _refused(lambda: client.evals.create(data_source_config=config, testing_criteria=[
        CRITERIA[0] | {"type": "label_model"}]), "testing_criteria[0].type")  # fmt: skip
    _refused(lambda: client.evals.create(data_source_config=config, testing_criteria=[
        CRITERIA[1] | {"evaluation_metric": "meteor"}]), "testing_criteria[0].evaluation_metric")  # fmt: skip
    _refused(lambda: client.evals.create(data_source_config=config, testing_criteria=[
        CRITERIA[0] | {"reference": "{{item.missing}}"}]), "testing_criteria[0].reference")  # fmt: skip
    assert Eval.objects.count() == 0
    made = client.evals.create(data_source_config=config, testing_criteria=CRITERIA[:1])
    source = {"source": {"type": "file_content", "content": ROWS}}
    message = _refused(lambda: client.evals.runs.create(made.id, data_source=DATA_SOURCE | source | {
        "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.nope}}"}]}}),
        "data_source.input_messages.template[0].content")  # fmt: skip
    assert "item.nope" in message
    others = openai.OpenAI(base_url=client.base_url, api_key=make_key(outsider), max_retries=0)
    theirs = others.files.create(file=("r.jsonl", b'{"item": {"question": "q", "answer": "a"}}\n'), purpose="evals")
    _refused(lambda: client.evals.runs.create(made.id, data_source=DATA_SOURCE | {
        "source": {"type": "file_id", "id": theirs.id}}), "data_source.source.id")  # fmt: skip
    listings.unpublish_listing(listing_id=served_commit.model.listing.pk, by=provider)  # the consumer may not call it
    assert "alice/tiny-gpt" in _refused(lambda: client.evals.runs.create(made.id, data_source=DATA_SOURCE | source),
                                        "data_source.model")  # fmt: skip
    with pytest.raises(openai.BadRequestError) as broken:
        client.files.create(file=("b.jsonl", b'{"item": {}}\n{"item": \n'), purpose="evals")
    assert broken.value.status_code == 400
    assert Job.objects.filter(kind="evalrun").count() == 0 and Reservation.objects.count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0)
    with pytest.raises(openai.NotFoundError):  # another user's eval does not exist for them
        others.evals.retrieve(made.id)


def test_a_queued_run_is_cancelled_and_its_hold_given_back(live_server, consumer, make_key, served_commit):
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT")
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(consumer, scopes=("read", "infer")),
                           max_retries=0)  # fmt: skip
    made = client.evals.create(data_source_config={"type": "custom", "item_schema": SCHEMA}, testing_criteria=CRITERIA)
    run = client.evals.runs.create(made.id, data_source=DATA_SOURCE | {"source": {"type": "file_content",
                                                                                  "content": ROWS}})  # fmt: skip
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert wallet.held == Reservation.objects.get(request_id=run.id).max_cost > 0
    cancelled = client.evals.runs.cancel(run.id, eval_id=made.id)
    assert cancelled.status == "canceled" and cancelled.result_counts.total == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (10 * MICRO, 0) and UsageRecord.objects.count() == 0
    assert client.evals.delete(made.id).deleted is True  # a cancelled run is finished: its eval may go
    assert Job.objects.filter(kind="evalrun").count() == 0
