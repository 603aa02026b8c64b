"""The graders of the Evals API's subset, in OpenAI's shapes, over the one metrics module (engine/metrics.py): there
is one BLEU and one ROUGE in the store. Templates are OpenAI's `{{item.field}}` and `{{sample.output_text}}`.

    string_check     {"type", "name", "input", "reference", "operation": eq | ne | like | ilike}: passes or not
                     (like: `reference` occurs in `input`; ilike: the same, ignoring case)
    text_similarity  {"type", "name", "input", "reference", "evaluation_metric", "pass_threshold"}: a score from 0
                     to 1 (BLEU / 100, a ROUGE F-measure, or fuzzy_match: difflib's ratio) that passes at or above
                     the threshold"""

import dataclasses
import difflib
import re

from core.exceptions import InvalidInput
from engine import metrics

PLACEHOLDER = re.compile(r"\{\{\s*(item|sample)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
OPERATIONS = ("eq", "ne", "like", "ilike")
SIMILARITY = ("bleu", "fuzzy_match", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l")
SAMPLE_FIELDS = ("output_text",)
MAX_CRITERIA = 20


@dataclasses.dataclass(frozen=True)
class Grade:
    name: str
    type: str
    passed: bool
    score: float

    def as_json(self) -> dict:
        return {"name": self.name, "type": self.type, "passed": self.passed, "score": self.score}


def fields_named(text: str, scope: str) -> set[str]:
    return {field for found_scope, field in PLACEHOLDER.findall(text) if found_scope == scope}


def render(text: str, *, item: dict, sample: dict | None = None) -> str:
    """The template with each {{item.x}} / {{sample.x}} replaced by its value (a missing one by nothing)."""

    def value(match: re.Match) -> str:
        source = item if match.group(1) == "item" else (sample or {})
        found = source.get(match.group(2), "")
        return found if isinstance(found, str) else str(found)

    return PLACEHOLDER.sub(value, text)


def check_criteria(criteria, item_fields: set[str]) -> list[dict]:
    """The testing criteria, checked: anything outside the subset is a 400 naming the field."""
    if not isinstance(criteria, list) or not 1 <= len(criteria) <= MAX_CRITERIA:
        raise InvalidInput(f"testing_criteria must be a list of 1 to {MAX_CRITERIA} graders", param="testing_criteria")
    checked, names = [], set()
    for index, grader in enumerate(criteria):
        where = f"testing_criteria[{index}]"
        if not isinstance(grader, dict):
            raise InvalidInput(f"{where} must be an object", param=where)
        kind = grader.get("type")
        if kind not in ("string_check", "text_similarity"):
            raise InvalidInput(f"{where}.type {kind!r} is not supported: use string_check or text_similarity",
                               param=f"{where}.type")  # fmt: skip
        name = grader.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 200 or name in names:
            raise InvalidInput(f"{where}.name must be a unique string of 1-200 characters", param=f"{where}.name")
        names.add(name)
        for key in ("input", "reference"):
            text = grader.get(key)
            if not isinstance(text, str) or len(text) > 10_000:
                raise InvalidInput(f"{where}.{key} must be a template string", param=f"{where}.{key}")
            missing = fields_named(text, "item") - item_fields
            if missing:
                raise InvalidInput(f"{where}.{key} names item.{sorted(missing)[0]}, which the item_schema does not "
                                   "have", param=f"{where}.{key}")  # fmt: skip
            unknown = fields_named(text, "sample") - set(SAMPLE_FIELDS)
            if unknown:
                raise InvalidInput(f"{where}.{key} names sample.{sorted(unknown)[0]}: only sample.output_text is "
                                   "supported", param=f"{where}.{key}")  # fmt: skip
        shaped = {"type": kind, "name": name, "input": grader["input"], "reference": grader["reference"]}
        if kind == "string_check":
            if grader.get("operation") not in OPERATIONS:
                raise InvalidInput(f"{where}.operation must be one of {', '.join(OPERATIONS)}",
                                   param=f"{where}.operation")  # fmt: skip
            shaped["operation"] = grader["operation"]
            extra = set(grader) - {"type", "name", "input", "reference", "operation"}
        else:
            if grader.get("evaluation_metric") not in SIMILARITY:
                raise InvalidInput(f"{where}.evaluation_metric {grader.get('evaluation_metric')!r} is not supported: "
                                   f"use one of {', '.join(SIMILARITY)}", param=f"{where}.evaluation_metric")  # fmt: skip
            threshold = grader.get("pass_threshold")
            if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
                raise InvalidInput(f"{where}.pass_threshold must be a number from 0 to 1",
                                   param=f"{where}.pass_threshold")  # fmt: skip
            shaped |= {"evaluation_metric": grader["evaluation_metric"], "pass_threshold": float(threshold)}
            extra = set(grader) - {"type", "name", "input", "reference", "evaluation_metric", "pass_threshold"}
        if extra:
            field = sorted(extra)[0]
            raise InvalidInput(f"{where}.{field} is not supported", param=f"{where}.{field}")
        checked.append(shaped)
    return checked


def similarity(metric: str, output: str, reference: str) -> float:
    if metric == "bleu":
        return metrics.sentence_bleu(output, reference) / 100
    if metric == "fuzzy_match":
        return difflib.SequenceMatcher(None, output, reference).ratio()
    name = "rougeL" if metric == "rouge_l" else "rouge" + metric[-1]
    return metrics.rouge([output], [reference], types=(name,))[name]


def grade(grader: dict, *, item: dict, sample: dict) -> Grade:
    given = render(grader["input"], item=item, sample=sample)
    reference = render(grader["reference"], item=item, sample=sample)
    if grader["type"] == "string_check":
        passed = {"eq": given == reference, "ne": given != reference, "like": reference in given,
                  "ilike": reference.lower() in given.lower()}[grader["operation"]]  # fmt: skip
        return Grade(grader["name"], "string_check", passed, 1.0 if passed else 0.0)
    score = similarity(grader["evaluation_metric"], given, reference)
    return Grade(grader["name"], "text_similarity", score >= grader["pass_threshold"], score)
