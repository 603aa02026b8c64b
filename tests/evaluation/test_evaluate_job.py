"""The `evaluate` kind end to end on a real job worker's code path: a valid commit with evals/ files is checked out,
scored on the standard set, timed, and each file run; the results are stored once, with their set, method, device and
figures; a broken file fails alone; the same commit gives the same figures again."""

import pytest

from engine import scoring
from evaluation import services, standard_set
from evaluation.models import DatasetKind, Evaluation, EvaluationStatus
from jobs import leases, runner
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


def run_evaluation(commit) -> Job:
    job = services.request_evaluation(commit)
    claimed = leases.claim_job(worker=runner.WORKER, kind_names=("evaluate",))
    assert claimed is not None and claimed.pk == job.pk
    runner.run_job(claimed)
    job.refresh_from_db()
    return job


def test_a_commit_is_evaluated_on_the_standard_set_and_its_own_files(eval_commit, evaluated_checkpoint):
    job = run_evaluation(eval_commit)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.public_id.startswith("evaljob-") and job.held == 0
    rows = {row.dataset_name: row for row in Evaluation.objects.filter(commit=eval_commit)}
    assert sorted(rows) == ["evals/broken.jsonl", "evals/choice.jsonl", "evals/ner.jsonl", "evals/qa.jsonl",
                            "evals/text.jsonl", "pkgdocs"]  # fmt: skip
    standard = rows["pkgdocs"]
    current = standard_set.load()
    assert (standard.dataset_kind, standard.dataset_version, standard.dataset_sha256) == (
        DatasetKind.STANDARD,
        current.version,
        current.sha256,
    )
    assert standard.status == EvaluationStatus.SUCCEEDED and standard.verified and standard.job_id == job.pk
    assert standard.device.startswith("cpu: ")
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(evaluated_checkpoint).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(evaluated_checkpoint)
    expected = scoring.total(scoring.rolling_loglikelihood(model, tokenizer, current.documents, max_len=128))
    assert standard.metrics["bits_per_byte"] == pytest.approx(expected.bits_per_byte, rel=1e-6)
    assert standard.metrics["perplexity"] == pytest.approx(expected.perplexity, rel=1e-6)
    assert standard.metrics["bytes"] == sum(len(doc.encode()) for doc in current.documents)
    assert standard.metrics["parameters"] == sum(p.numel() for p in model.parameters())
    assert standard.metrics["weight_bytes"] == (evaluated_checkpoint / "model.safetensors").stat().st_size
    assert standard.metrics["tokens_per_second_b1"] > 0 and standard.metrics["tokens_per_second_b8"] > 0
    assert standard.metrics["context_length"] == 128 and standard.metrics["load_seconds"] > 0

    broken = rows["evals/broken.jsonl"]
    assert broken.status == EvaluationStatus.FAILED
    assert broken.error == "evals/broken.jsonl line 2: not JSON (Expecting value)"
    assert rows["evals/text.jsonl"].status == EvaluationStatus.SUCCEEDED
    assert rows["evals/text.jsonl"].metrics["documents"] == 2
    assert set(rows["evals/qa.jsonl"].metrics) >= {"bleu", "bleu_signature", "rouge1", "rouge2", "rougeL",
                                                    "exact_match", "f1"}  # fmt: skip
    assert rows["evals/qa.jsonl"].metrics["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    labels = set(rows["evals/choice.jsonl"].reports["report"]["labels"])
    assert {" blue", " hot"} <= labels <= {" blue", " loud", " hot", " cold"}  # the gold labels, and any predicted
    assert rows["evals/choice.jsonl"].metrics["samples"] == 2
    assert rows["evals/ner.jsonl"].metrics["tokens"] == 9
    assert (
        "entity_f1" in rows["evals/ner.jsonl"].metrics
        and "B-PER" in rows["evals/ner.jsonl"].reports["report"]["labels"]
    )


def test_the_same_commit_gives_the_same_figures_and_a_second_run_replaces_the_first(eval_commit):
    first = run_evaluation(eval_commit)
    before = {row.dataset_name: row.metrics for row in Evaluation.objects.filter(commit=eval_commit)}
    second = run_evaluation(eval_commit)
    assert second.pk != first.pk and second.status == JobStatus.SUCCEEDED
    after = {row.dataset_name: row.metrics for row in Evaluation.objects.filter(commit=eval_commit)}
    assert Evaluation.objects.filter(commit=eval_commit).count() == 6
    assert set(Evaluation.objects.filter(commit=eval_commit).values_list("job_id", flat=True)) == {second.pk}
    for name in ("pkgdocs", "evals/text.jsonl", "evals/qa.jsonl", "evals/choice.jsonl", "evals/ner.jsonl"):
        for key in ("bits_per_byte", "perplexity", "bleu", "rougeL", "f1", "accuracy", "entity_f1"):
            if key in before[name]:
                assert after[name][key] == pytest.approx(before[name][key], rel=1e-9, abs=1e-12), (name, key)


def test_asking_twice_while_one_is_queued_makes_one_job(eval_commit):
    first = services.request_evaluation(eval_commit)
    assert services.request_evaluation(eval_commit).pk == first.pk
    assert Job.objects.filter(kind="evaluate").count() == 1
