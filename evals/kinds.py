"""The `evalrun` job kind: one run of an eval (evals/models.Eval) on a model the caller may call. Its calls go through
the /v1 gateway and are metered and charged exactly as /v1 calls, at the model's price; the job holds their upper
bound (each row's prompt bound plus max_completion_tokens, at that price) when it is created, so a run the wallet
cannot cover is refused with nothing created, and gives the hold back when it starts calling (each call then holds
and settles its own cost)."""

from django.conf import settings

from accounts.models import ApiKey, User
from core.exceptions import InvalidInput
from evals import items as rows
from evals.graders import fields_named
from jobs.kinds import JobKind, Plan, register
from marketplace.exceptions import ModelNotFound
from marketplace.money import token_cost
from marketplace.services import offers
from serving import gateway

ROLES = ("system", "developer", "user", "assistant")
SAMPLING = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "seed": (0, 2**31 - 1), "max_completion_tokens": (1, 4096)}
PROMPT_ALLOWANCE = 64  # tokens of chat template around each message (the gateway's own bound)


@register
class EvalRun(JobKind):
    name = "evalrun"
    public_prefix = "evalrun_"
    unit = "token"
    noun = "eval run"
    started = "Eval run started"
    charge_key = "evalrun"
    notifies = False

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:  # noqa: ARG002
        evaluation, source = spec["eval"], spec.get("data_source")
        if not isinstance(source, dict) or source.get("type") != "completions":
            raise InvalidInput("data_source.type must be 'completions'", param="data_source.type")
        extra = set(source) - {"type", "model", "input_messages", "sampling_params", "source"}
        if extra:
            raise InvalidInput(
                f"data_source.{sorted(extra)[0]} is not supported", param=f"data_source.{sorted(extra)[0]}"
            )
        model_id = source.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise InvalidInput("data_source.model must name a model", param="data_source.model")
        try:
            model, revision = gateway.find_callable_model(model_id=model_id, user=user)
            offer = offers.resolve_offer(user=user, model=model, revision=revision)
        except (ModelNotFound, offers.NotServable) as exc:
            raise InvalidInput(f"data_source.model: {exc.message}", param="data_source.model") from None
        template = _template(source.get("input_messages"), set(evaluation.item_schema.get("properties", {})))
        sampling = _sampling(source.get("sampling_params"))
        data = rows.read(source.get("source"), user=user)
        bound = sum(rows.prompt_bound(template, item) for item in data)
        completion = sampling.get("max_completion_tokens", settings.EVAL_DEFAULT_MAX_TOKENS) * len(data)
        card = offer.price_card
        hold = token_cost(prompt_tokens=bound, completion_tokens=completion, prompt_price=card.prompt_price,
                          completion_price=card.completion_price) if card else 0  # fmt: skip
        return Plan(
            params={"eval_id": evaluation.public_id, "model": model_id, "template": template, "sampling": sampling,
                    "items": data, "name": spec.get("name") or "", "source": source.get("source")},
            estimated_units=bound + completion, hold=hold, base_model=model, base_commit=offer.commit,
            base_label=model_id, resource_class="cpu", metadata=spec.get("metadata") or {},
            events=[f"Created eval run {{job}} of {evaluation.public_id} on {model_id}: {len(data)} rows"],
        )  # fmt: skip

    def price(self, units: int) -> int:  # noqa: ARG002  (its calls are charged by the gateway, one by one)
        return 0

    def run(self, run) -> int:
        from evals import run as worker

        return worker.run_eval(run)


def _template(value, fields: set[str]) -> list[dict]:
    param = "data_source.input_messages"
    if not isinstance(value, dict) or value.get("type") != "template" or not isinstance(value.get("template"), list):
        raise InvalidInput(f"{param} must be {{'type': 'template', 'template': [messages]}}", param=f"{param}.type")
    messages = value["template"]
    if not 1 <= len(messages) <= 50:
        raise InvalidInput(f"{param}.template must hold 1 to 50 messages", param=f"{param}.template")
    checked = []
    for index, message in enumerate(messages):
        where = f"{param}.template[{index}]"
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise InvalidInput(f"{where} needs a role ({', '.join(ROLES)}) and string content", param=where)
        missing = fields_named(message["content"], "item") - fields
        if missing:
            raise InvalidInput(f"{where}.content names item.{sorted(missing)[0]}, which the eval's item_schema does "
                               "not have", param=f"{where}.content")  # fmt: skip
        if fields_named(message["content"], "sample"):
            raise InvalidInput(f"{where}.content: a prompt cannot name the sample", param=f"{where}.content")
        checked.append({"role": message["role"], "content": message["content"]})
    return checked


def _sampling(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("data_source.sampling_params must be an object", param="data_source.sampling_params")
    for key, number in value.items():
        param = f"data_source.sampling_params.{key}"
        if key not in SAMPLING:
            raise InvalidInput(f"{param} is not supported: use {', '.join(SAMPLING)}", param=param)
        low, high = SAMPLING[key]
        integral = key in ("seed", "max_completion_tokens")
        if (
            isinstance(number, bool)
            or not isinstance(number, int if integral else int | float)
            or not low <= number <= high
        ):
            raise InvalidInput(f"{param} must be {'an integer' if integral else 'a number'} from {low} to {high}",
                               param=param)  # fmt: skip
    return dict(value)
