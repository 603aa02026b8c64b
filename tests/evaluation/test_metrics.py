"""The one home of the metrics (engine/metrics.py) against hand-computed values on crafted sets, and against the
reference libraries themselves; missing and extra tags count as errors, never as a crash."""

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from engine import metrics


def test_bleu_and_rouge_are_sacrebleus_and_rouge_scores():
    hypotheses = ["the cat is on the mat", "a quick brown fox", "hello there"]
    references = ["the cat sat on the mat", "the quick brown fox jumps", "hello there"]
    ours = metrics.bleu(hypotheses, references)
    assert ours["bleu"] == sacrebleu.corpus_bleu(hypotheses, [references]).score
    assert ours["bleu_signature"] == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    assert metrics.bleu(["the same five words here"], ["the same five words here"])["bleu"] == pytest.approx(100.0)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    expected = {name: sum(scorer.score(r, h)[name].fmeasure for h, r in zip(hypotheses, references, strict=True)) / 3
                for name in ("rouge1", "rouge2", "rougeL")}  # fmt: skip
    assert metrics.rouge(hypotheses, references) == pytest.approx(expected)
    assert metrics.rouge(["the cat is on the mat"], ["the cat sat on the mat"])["rouge1"] == pytest.approx(5 / 6)


def test_exact_match_and_token_f1_are_squads():
    assert metrics.exact_match("The Paris!", "paris") == 1.0
    assert metrics.exact_match("Paris, France", "Paris") == 0.0
    assert metrics.token_f1("a big cat", "the cat") == pytest.approx(2 / 3)
    assert metrics.token_f1("", "") == 1.0 and metrics.token_f1("dog", "") == 0.0
    scores = metrics.generation_scores(["Paris", "five"], ["paris", "four"])
    assert (scores["exact_match"], scores["f1"], scores["samples"]) == (0.5, 0.5, 2)


def test_choice_accuracy_and_the_classification_report():
    report = metrics.choice_scores(["a", "b", "a", "c"], ["a", "a", "a", "c"])
    assert report["accuracy"] == 0.75
    table = report["report"]["table"]
    assert table["a"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2})
    assert table["b"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert table["c"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1}
    assert table["micro avg"] == pytest.approx({"precision": 0.75, "recall": 0.75, "f1-score": 0.75, "support": 4})
    assert table["macro avg"]["precision"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert table["weighted avg"]["precision"] == pytest.approx((2 * 2 / 3 + 0 + 1) / 4)
    assert "weighted avg     0.5833    0.7500    0.6500         4" in report["report"]["text"]


def test_tagging_counts_a_missing_tag_and_an_extra_tag_as_errors():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "B-ORG"], ["O", "B-PER"]]
    predicted = [["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["O", "B-PER", "B-LOC"]]  # one missing, one extra
    report = metrics.tagging_scores(gold, predicted)
    # entities: gold PER, LOC, ORG, PER; predicted PER, LOC, PER and the extra LOC: 3 right of 4 each way
    assert (report["entity_precision"], report["entity_recall"], report["entity_f1"]) == (0.75, 0.75, 0.75)
    assert report["token_accuracy"] == pytest.approx(7 / 9) and report["tokens"] == 8 and report["samples"] == 3
    table = report["report"]["table"]
    assert report["report"]["labels"] == ["B-LOC", "B-ORG", "B-PER", "I-PER", "O"]
    assert table["B-LOC"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1})
    assert table["B-ORG"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert table["B-PER"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 2}
    assert table["O"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 3}
    assert table["micro avg"] == pytest.approx({"precision": 7 / 8, "recall": 7 / 8, "f1-score": 7 / 8, "support": 8})
    entities = report["entity_report"]["table"]
    assert entities["LOC"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1})
    assert entities["ORG"]["recall"] == 0.0 and entities["PER"]["f1-score"] == 1.0


def test_tags_that_are_not_tags_are_wrong_not_a_crash():
    report = metrics.tagging_scores([["B-PER", "O"]], [["Paris", "<missing>", "O", "I-"]])
    assert report["entity_f1"] == 0.0 and report["token_accuracy"] == 0.0
    assert report["report"]["table"]["B-PER"]["recall"] == 0.0
