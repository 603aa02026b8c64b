"""The method is lm-evaluation-harness's rolling log-likelihood: lm-eval itself (its HF model, a local task over the
same JSONL, offline) gives the same bits per byte, byte and word perplexity; token perplexity, which lm-eval does not
report, equals a plain transformers loop written here from the method's definition."""

import json
import math

import pytest
import torch
import transformers

from engine import scoring

DOCS = [
    "Hello world, this is a test.\n\nAnother   paragraph with spaces.",
    "é ü ß — unicode counts as its UTF-8 bytes!",
    "short",
]


@pytest.fixture(scope="module")
def documents(tiny_checkpoint):
    from evaluation import standard_set

    long = standard_set.load().documents[3][:2500]  # several windows of 128 tokens
    return [*DOCS, long]


def _lm_eval(checkpoint, documents, tmp_path):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": text}) + "\n" for text in documents))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "store_text.yaml").write_text(
        f"task: store_text\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
        "output_type: loglikelihood_rolling\ndoc_to_text: ''\ndoc_to_target: '{{text}}'\nmetric_list:\n"
        "  - metric: word_perplexity\n  - metric: byte_perplexity\n  - metric: bits_per_byte\n"
    )
    results = lm_eval.simple_evaluate(model=HFLM(pretrained=str(checkpoint), batch_size=2, device="cpu"),
                                      tasks=["store_text"], task_manager=TaskManager(include_path=str(tmp_path / "tasks")))  # fmt: skip
    return results["results"]["store_text"]


def test_lm_eval_itself_gives_the_same_figures(tiny_checkpoint, documents, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint)
    ours = scoring.total(scoring.rolling_loglikelihood(model, tokenizer, documents, max_len=128))
    assert ours.tokens > 3 * 128  # the long document spans windows, the last one partial
    theirs = _lm_eval(tiny_checkpoint, documents, tmp_path)
    assert ours.bits_per_byte == pytest.approx(theirs["bits_per_byte,none"], rel=1e-4)
    assert ours.byte_perplexity == pytest.approx(theirs["byte_perplexity,none"], rel=1e-4)
    assert ours.word_perplexity == pytest.approx(theirs["word_perplexity,none"], rel=1e-4)


def test_token_perplexity_equals_a_plain_loop_over_disjoint_windows(tiny_checkpoint, documents):
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint)
    eot = tokenizer.eos_token_id
    nll, count, size = 0.0, 0, 0
    for text in documents:  # each document alone, after the end-of-text token, one window at a time
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        size += len(text.encode())
        sequence = [eot, *ids]
        for start in range(0, len(ids), 128):
            end = min(start + 128, len(ids))
            inputs = sequence[max(0, end - 128) : end]  # the last window keeps a full context
            with torch.no_grad():
                logits = model(torch.tensor([inputs])).logits[0]
            targets = torch.tensor(ids[start:end])
            nll += float(torch.nn.functional.cross_entropy(logits[-len(targets) :], targets, reduction="sum"))
            count += len(targets)
    ours = scoring.total(scoring.rolling_loglikelihood(model, tokenizer, documents, max_len=128))
    assert ours.tokens == count and ours.bytes == size
    assert ours.perplexity == pytest.approx(math.exp(nll / count), rel=1e-5)
    assert ours.bits_per_byte == pytest.approx(nll / size / math.log(2), rel=1e-5)


def test_windows_predict_every_token_once():
    windows = list(scoring.rolling_windows(list(range(10, 20)), prefix=0, max_len=4))
    assert [(w.inputs, w.targets) for w in windows] == [
        ([0, 10, 11, 12], [10, 11, 12, 13]),
        ([13, 14, 15, 16], [14, 15, 16, 17]),
        ([15, 16, 17, 18], [18, 19]),  # the last window: two tokens predicted after a full context
    ]
