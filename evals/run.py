"""An `evalrun` job's work: give the creation's hold back, then for each row render the prompt, call the model
through the /v1 gateway (metered and charged as any /v1 call), grade the answer with each testing criterion, and
store one output item. A row whose call fails is stored failed with the error in its sample; the run goes on. A
resumed run (its worker died) starts after the last stored row."""

import time

from django.db import IntegrityError

from core.exceptions import DomainError
from evals import items as rows
from evals.graders import grade
from evals.models import Eval, OutputItem
from jobs import services as jobs
from jobs.kinds import Stopped
from marketplace.models import UsageStatus
from serving import call_spec, gateway


def run_eval(run) -> int:
    job = run.job
    params = job.params
    evaluation = Eval.objects.get(public_id=params["eval_id"])
    jobs.settle(job, 0)  # each call holds and settles its own cost from here on
    done = set(OutputItem.objects.filter(run=job).values_list("datasource_item_id", flat=True))
    tokens = 0
    for index, item in enumerate(params["items"]):
        if index in done:
            continue
        if reason := run.should_stop():
            raise Stopped(reason, tokens)
        sample = _sample(params, item, job)
        tokens += sample.get("usage", {}).get("total_tokens", 0)
        grades = (
            [] if sample.get("error") else [grade(g, item=item, sample=sample) for g in evaluation.testing_criteria]
        )
        passed = not sample.get("error") and all(g.passed for g in grades)
        try:
            OutputItem.objects.create(run=job, eval=evaluation, datasource_item_id=index, datasource_item=item,
                                      status="pass" if passed else "fail", results=[g.as_json() for g in grades],
                                      sample=sample)  # fmt: skip
        except IntegrityError:  # another attempt stored this row first
            continue
        run.progress(step=index + 1, total_steps=len(params["items"]), units=tokens,
                     message=f"Row {index + 1} of {len(params['items'])}: {'pass' if passed else 'fail'}")  # fmt: skip
    return tokens


def _sample(params: dict, item: dict, job) -> dict:
    """The model's answer to the row, as OpenAI's output item `sample`."""
    sampling = params["sampling"]
    messages = rows.messages(params["template"], item)
    body = {"model": params["model"], "messages": messages,
            "max_tokens": sampling.get("max_completion_tokens", 256)}  # fmt: skip
    body |= {key: sampling[key] for key in ("temperature", "top_p", "seed") if key in sampling}
    shown = {"input": messages, "model": params["model"], "max_completion_tokens": body["max_tokens"],
             "temperature": sampling.get("temperature", 1.0), "top_p": sampling.get("top_p", 1.0),
             "seed": sampling.get("seed")}  # fmt: skip
    started = time.monotonic()
    try:
        call = gateway.start_call(spec=call_spec.parse_chat(body), user=job.owner, api_key=None)
    except DomainError as exc:
        return shown | {"output": [], "finish_reason": "", "error": {"code": exc.code, "message": exc.message},
                        "output_text": "", "usage": {}}  # fmt: skip
    parts = []
    try:
        for entry in call.events():
            parts.append(entry.text)
    except DomainError as exc:
        call.finish(latency_ms=int((time.monotonic() - started) * 1000), status=UsageStatus.ERROR, delivered=False)
        return shown | {"output": [], "finish_reason": "", "error": {"code": exc.code, "message": exc.message},
                        "output_text": "", "usage": {}}  # fmt: skip
    call.finish(latency_ms=int((time.monotonic() - started) * 1000))
    text = "".join(parts)
    usage = {"prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
             "total_tokens": call.prompt_tokens + call.completion_tokens, "cached_tokens": 0}  # fmt: skip
    return shown | {"output": [{"role": "assistant", "content": text}], "output_text": text,
                    "finish_reason": (call.finish_reasons or ["stop"])[0], "usage": usage, "error": None}  # fmt: skip
