"""The one home of every text metric the store reports: the verified evaluation's provider files (evaluation/) and,
later, the Evals API's graders use these functions and no other. Each wraps the field's reference library, so a
figure here is that library's figure: BLEU is sacrebleu's (its signature recorded), ROUGE is Google's rouge-score,
the classification reports are scikit-learn's and seqeval's. No Django here."""

import collections
import re
import string
from collections.abc import Sequence

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
MISSING = "<missing>"  # a tag the model did not give: wrong whatever the gold tag
NONE = "<none>"  # the gold side of a tag the model gave past the last token: a false positive of that tag


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU (sacrebleu's defaults: 13a tokenization, exponential smoothing) and its signature."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    score = metric.corpus_score(list(hypotheses), [list(references)])
    return {"bleu": score.score, "bleu_signature": str(metric.get_signature())}


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """BLEU of one sample (0-100), smoothed as sacrebleu's sentence_score does."""
    from sacrebleu.metrics import BLEU

    return BLEU(effective_order=True).sentence_score(hypothesis, [reference]).score


def rouge(hypotheses: Sequence[str], references: Sequence[str], types: Sequence[str] = ROUGE_TYPES) -> dict:
    """The mean F-measure of each ROUGE type over the samples (rouge-score, no stemming), as rouge1 ... rougeL."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(types), use_stemmer=False)
    sums = dict.fromkeys(types, 0.0)
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        for name, score in scorer.score(reference, hypothesis).items():
            sums[name] += score.fmeasure
    return {name: total / max(len(hypotheses), 1) for name, total in sums.items()}


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(hypothesis: str, reference: str) -> float:
    return float(normalize_answer(hypothesis) == normalize_answer(reference))


def token_f1(hypothesis: str, reference: str) -> float:
    """SQuAD's token F1 between the normalised answers (1.0 when both are empty)."""
    predicted, gold = normalize_answer(hypothesis).split(), normalize_answer(reference).split()
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def generation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Everything a {"prompt", "reference"} file reports: BLEU, ROUGE-1/2/L F, exact match and token F1 (means)."""
    count = max(len(hypotheses), 1)
    pairs = list(zip(hypotheses, references, strict=True))
    return {
        **bleu(hypotheses, references),
        **rouge(hypotheses, references),
        "exact_match": sum(exact_match(h, r) for h, r in pairs) / count,
        "f1": sum(token_f1(h, r) for h, r in pairs) / count,
        "samples": len(pairs),
    }


def classification(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict:
    """scikit-learn's classification report over `labels` (per label precision, recall, F1, support; micro, macro
    and weighted averages), as a dict and as the text it prints. A gold or predicted value outside `labels` (a
    missing or extra tag) still counts: as a false negative or false positive of the label on the other side."""
    from sklearn.metrics import classification_report, precision_recall_fscore_support

    labels = list(labels)
    table = classification_report(gold, predicted, labels=labels, output_dict=True, zero_division=0)
    micro = precision_recall_fscore_support(gold, predicted, labels=labels, average="micro", zero_division=0)
    table["micro avg"] = {"precision": micro[0], "recall": micro[1], "f1-score": micro[2],
                          "support": sum(1 for value in gold if value in labels)}  # fmt: skip
    table.pop("accuracy", None)  # sklearn prints it in place of micro avg when labels cover every value
    text = classification_report(gold, predicted, labels=labels, digits=4, zero_division=0)
    return {"labels": labels, "table": plain(table), "text": text}


def choice_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """A {"prompt", "choices", "label"} file's report: accuracy and the classification report of the choices."""
    labels = sorted(set(gold) | set(predicted))
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(len(gold), 1)
    return {"accuracy": accuracy, "samples": len(gold), "report": classification(gold, predicted, labels)}


def align_tags(gold: Sequence[str], predicted: Sequence[str]) -> tuple[list[str], list[str]]:
    """One sentence's gold and predicted tags, made the same length: a tag the model left out becomes MISSING
    (a false negative), one it gave past the last token is set against NONE (a false positive)."""
    width = max(len(gold), len(predicted))
    return ([*gold, *[NONE] * (width - len(gold))], [*predicted, *[MISSING] * (width - len(predicted))])


def tagging_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """A {"tokens", "tags"} file's report: the per-tag classification report over every token, and seqeval's
    entity-level precision, recall and F1 (strict IOB2 chunks as in CoNLL-2003's conlleval). A missing tag counts as
    "O" and an extra one against "O" for the entities, so neither crashes and both count as errors."""
    from seqeval.metrics import classification_report as entity_report
    from seqeval.metrics import f1_score, precision_score, recall_score

    flat_gold: list[str] = []
    flat_predicted: list[str] = []
    entity_gold: list[list[str]] = []
    entity_predicted: list[list[str]] = []
    for sentence_gold, sentence_predicted in zip(gold, predicted, strict=True):
        aligned_gold, aligned_predicted = align_tags(sentence_gold, sentence_predicted)
        flat_gold += aligned_gold
        flat_predicted += aligned_predicted
        entity_gold.append([_entity_tag(tag) for tag in aligned_gold])
        entity_predicted.append([_entity_tag(tag) for tag in aligned_predicted])
    labels = sorted({tag for sentence in gold for tag in sentence})
    tokens = sum(len(sentence) for sentence in gold)
    correct = sum(g == p for g, p in zip(flat_gold, flat_predicted, strict=True))
    return {
        "token_accuracy": correct / max(len(flat_gold), 1),
        "tokens": tokens,
        "samples": len(gold),
        "entity_precision": float(precision_score(entity_gold, entity_predicted, zero_division=0)),
        "entity_recall": float(recall_score(entity_gold, entity_predicted, zero_division=0)),
        "entity_f1": float(f1_score(entity_gold, entity_predicted, zero_division=0)),
        "report": classification(flat_gold, flat_predicted, labels),
        "entity_report": {
            "table": plain(entity_report(entity_gold, entity_predicted, output_dict=True, zero_division=0)),
            "text": entity_report(entity_gold, entity_predicted, digits=4, zero_division=0),
        },
    }


def _entity_tag(tag: str) -> str:
    """A tag as seqeval reads it: MISSING, NONE and anything that is not an IOB tag are outside every entity."""
    return tag if re.fullmatch(r"[BIES]-\S+|O", tag) else "O"


def plain(value):
    """`value` with numpy's numbers made Python's, so a report is JSON."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value.item() if hasattr(value, "item") else value
