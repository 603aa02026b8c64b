"""A provider's own evaluation files: JSONL under `evals/` in a commit, each of one form, read with bounds and run
on a loaded model. No Django here; evaluation/run.py records what these return. docs/evaluation.md has each form's
report.

    {"text": ...}                                perplexity and bits per byte (scoring.rolling_loglikelihood)
    {"prompt": ..., "reference": ...}            greedy generation; BLEU, ROUGE-1/2/L F, exact match, token F1
    {"prompt": ..., "choices": [...], "label": } log-likelihood of each choice after the prompt, the argmax;
                                                 accuracy and the classification report
    {"tokens": [...], "tags": [...]}             the model tags the tokens (TAGGING_TEMPLATE); the per-tag report
                                                 and seqeval's entity precision, recall and F1

A file that breaks a rule raises EvalFileError naming the file and line; it fails that file only."""

import json
from collections.abc import Callable, Sequence

from engine import metrics, scoring

MAX_ROWS = 2000
MAX_TEXT = 100_000  # characters in one field
MAX_NEW_TOKENS = 128
TAGGING_TEMPLATE = "Tag each token.\nTokens: {tokens}\nTags:"  # the model answers " TAG TAG ...\n", one per token


class EvalFileError(ValueError):
    def __init__(self, path: str, line: int | None, reason: str):
        where = f"{path} line {line}" if line else path
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = path, line, reason


FORMS: dict[frozenset, str] = {
    frozenset({"text"}): "text",
    frozenset({"prompt", "reference"}): "generation",
    frozenset({"prompt", "choices", "label"}): "choice",
    frozenset({"tokens", "tags"}): "tagging",
}


def parse(path: str, data: bytes) -> tuple[str, list[dict]]:
    """The file's form and rows, every row checked; EvalFileError at the first broken line."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise EvalFileError(path, None, "not UTF-8") from None
    rows: list[dict] = []
    form: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(path, number, f"not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise EvalFileError(path, number, "a line must be a JSON object")
        this = FORMS.get(frozenset(row))
        if this is None:
            raise EvalFileError(path, number, f"keys {sorted(row)} match no form: {_forms()}")
        if form is not None and this != form:
            raise EvalFileError(path, number, f"a {this} row in a file of {form} rows: one form per file")
        form = this
        _check(path, number, form, row)
        rows.append(row)
        if len(rows) > MAX_ROWS:
            raise EvalFileError(path, number, f"more than {MAX_ROWS} rows")
    if form is None:
        raise EvalFileError(path, None, "no rows")
    return form, rows


def _forms() -> str:
    return "; ".join("{" + ", ".join(sorted(keys)) + "}" for keys in FORMS)


def _check(path: str, number: int, form: str, row: dict) -> None:
    def fail(reason: str):
        raise EvalFileError(path, number, reason)

    for key, value in row.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            fail(f"{key} is longer than {MAX_TEXT} characters")
    if form in ("text", "generation", "choice"):
        for key in ("text",) if form == "text" else ("prompt", "reference") if form == "generation" else ("prompt",):
            if not isinstance(row[key], str) or (key != "prompt" and not row[key]):
                fail(f"{key} must be a non-empty string")
    if form == "choice":
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
            fail("choices must be a list of at least two non-empty strings")
        label = row["label"]
        if isinstance(label, bool) or not ((isinstance(label, int) and 0 <= label < len(choices)) or label in choices):
            fail("label must be the index of a choice or one of the choices")
    if form == "tagging":
        tokens, tags = row["tokens"], row["tags"]
        for key, value in (("tokens", tokens), ("tags", tags)):
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v and not any(
                    c.isspace() for c in v) for v in value):  # fmt: skip
                fail(f"{key} must be a non-empty list of strings without whitespace")
        if len(tokens) != len(tags):
            fail(f"{len(tokens)} tokens but {len(tags)} tags")


def tagging_prompt(tokens: Sequence[str]) -> str:
    return TAGGING_TEMPLATE.format(tokens=" ".join(tokens))


def run(model, tokenizer, form: str, rows: list[dict], *, max_len: int,
        should_stop: Callable[[], None] = lambda: None) -> dict:  # fmt: skip
    """The form's figures and reports for the rows (greedy, so the same model gives the same figures)."""
    if form == "text":
        return scoring.total(scoring.rolling_loglikelihood(model, tokenizer, [r["text"] for r in rows],
                                                           max_len=max_len)).figures()  # fmt: skip
    if form == "generation":
        hypotheses = []
        for row in rows:
            should_stop()
            reference_tokens = len(scoring.encode(tokenizer, row["reference"]))
            output = greedy(model, tokenizer, row["prompt"], max_new=min(MAX_NEW_TOKENS, 2 * reference_tokens + 8),
                            max_len=max_len)  # fmt: skip
            hypotheses.append(output if "\n" in row["reference"] else output.split("\n")[0].strip())
        return metrics.generation_scores(hypotheses, [row["reference"] for row in rows]) | {"samples_shown": [
            {"prompt": r["prompt"][:200], "reference": r["reference"][:200], "output": h[:200]}
            for r, h in zip(rows[:5], hypotheses[:5], strict=True)]}  # fmt: skip
    if form == "choice":
        gold, predicted = [], []
        for row in rows:
            should_stop()
            choices = row["choices"]
            scores = [choice_loglikelihood(model, tokenizer, row["prompt"], c, max_len=max_len) for c in choices]
            label = row["label"] if isinstance(row["label"], str) else choices[row["label"]]
            gold.append(label)
            predicted.append(choices[max(range(len(choices)), key=lambda index: scores[index])])
        return metrics.choice_scores(gold, predicted)
    gold_tags, predicted_tags = [], []
    for row in rows:
        should_stop()
        output = greedy(model, tokenizer, tagging_prompt(row["tokens"]), max_len=max_len,
                        max_new=min(MAX_NEW_TOKENS, 4 * len(row["tokens"]) + 8))  # fmt: skip
        gold_tags.append(row["tags"])
        predicted_tags.append(output.split("\n")[0].split())
    return metrics.tagging_scores(gold_tags, predicted_tags)


def greedy(model, tokenizer, prompt: str, *, max_new: int, max_len: int) -> str:
    """The greedy continuation of `prompt` (its last tokens, when it is longer than the context allows), up to the
    end-of-text token or `max_new` tokens."""
    import torch

    ids = scoring.encode(tokenizer, prompt)[-max(1, max_len - max_new) :] or [scoring.prefix_token(tokenizer)]
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids], device=device), attention_mask=torch.ones((1, len(ids)),
                             dtype=torch.long, device=device), max_new_tokens=max_new, do_sample=False,
                             pad_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    return tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


def choice_loglikelihood(model, tokenizer, prompt: str, choice: str, *, max_len: int) -> float:
    """log P(choice | prompt), encoded as lm-eval encodes a pair: the prompt's trailing spaces move to the choice,
    the whole is encoded once and the choice is what follows the prompt's tokens."""
    import torch

    spaces = len(prompt) - len(prompt.rstrip(" "))
    if spaces:
        prompt, choice = prompt[:-spaces], prompt[-spaces:] + choice
    whole = scoring.encode(tokenizer, prompt + choice)
    context = scoring.encode(tokenizer, prompt)
    continuation = whole[len(context) :] or whole[-1:]
    context = whole[: len(whole) - len(continuation)] or [scoring.prefix_token(tokenizer)]
    ids = (context + continuation)[-(max_len + 1) :][:-1]
    device = next(model.parameters()).device
    with torch.inference_mode():
        logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids], device=device)).logits[0].float(), dim=-1)
    picked = logprobs[-len(continuation) :].gather(-1, torch.tensor(continuation, device=device)[:, None])
    return float(picked.sum())
