"""The `method` of a compression job, as /v1/fine_tuning/jobs takes it, checked and resolved:

    {"type": "quantize", "quantize": {"bits": 8}}
    {"type": "prune", "prune": {"ratio": 0.5, "drop_layers": 0, "calibration_file": null,
                                "hyperparameters": {...}}}           (a recovery fine-tune when training_file is sent)
    {"type": "distill", "distill": {"student": {"preset": "small"} | {"n_layer", "n_head", "n_embd", "n_inner"},
                                    "temperature": 2.0, "alpha": 0.5, "hyperparameters": {...}}}

`hyperparameters` are a fine-tune's (n_epochs, batch_size, learning_rate_multiplier; training/method.py's limits).
Every refusal is InvalidInput naming the field."""

import math

from core.exceptions import InvalidInput
from engine.compress.distill import STUDENT_FIELDS, Student
from engine.pretrain import PRESETS
from training.method import LIMITS, number

TYPES = ("quantize", "prune", "distill")
BITS = (8,)
TEMPERATURE = (0.5, 20.0)
SHAPE_LIMITS = {"n_layer": (1, 48), "n_head": (1, 64), "n_embd": (8, 8192), "n_inner": (8, 65536)}


def resolve(method: dict, *, examples: int) -> dict:
    kind = method["type"]
    given = method.get(kind, {})
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InvalidInput(f"method.{kind} must be an object", param=f"method.{kind}")
    return {"type": kind, kind: {"quantize": _quantize, "prune": _prune, "distill": _distill}[kind](given, examples)}


def _fields(given: dict, kind: str, allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"unknown {kind} field {name!r}", param=f"method.{kind}.{name}")


def _quantize(given: dict, _examples: int) -> dict:
    _fields(given, "quantize", {"bits"})
    bits = given.get("bits", 8)
    if bits == 4:
        raise InvalidInput("int4 is not offered: torchao's int4 weight-only kernels need a CUDA GPU (and its mslk "
                           "or tinygemm kernels), and this store quantizes on CPU workers. Use bits 8",
                           param="method.quantize.bits")  # fmt: skip
    if bits not in BITS:
        raise InvalidInput("bits must be 8 (int8 weight-only)", param="method.quantize.bits")
    return {"bits": bits, "hyperparameters": {}}


def _prune(given: dict, examples: int) -> dict:
    _fields(given, "prune", {"ratio", "drop_layers", "calibration_file", "hyperparameters"})
    ratio = given.get("ratio", 0.5)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not math.isfinite(ratio) or not 0 < ratio < 1:
        raise InvalidInput(f"ratio must be a number between 0 and 1 (exclusive), got {ratio!r}",
                           param="method.prune.ratio")  # fmt: skip
    drop = given.get("drop_layers", 0)
    if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
        raise InvalidInput("drop_layers must be a whole number of blocks, 0 or more", param="method.prune.drop_layers")
    calibration = given.get("calibration_file")
    if calibration is not None and (not isinstance(calibration, str) or not calibration):
        raise InvalidInput("calibration_file must be a file id", param="method.prune.calibration_file")
    return {"ratio": float(ratio), "drop_layers": drop, "calibration_file": calibration,
            "hyperparameters": _hyper(given.get("hyperparameters"), "prune", examples, epochs=1)}  # fmt: skip


def _distill(given: dict, examples: int) -> dict:
    _fields(given, "distill", {"student", "temperature", "alpha", "hyperparameters"})
    temperature = given.get("temperature", 2.0)
    low, high = TEMPERATURE
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not low <= temperature <= high:
        raise InvalidInput(f"temperature must be a number between {low} and {high}", param="method.distill.temperature")
    alpha = given.get("alpha", 0.5)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise InvalidInput("alpha (the weight of the distillation term) must be between 0 and 1",
                           param="method.distill.alpha")  # fmt: skip
    return {"student": _student(given.get("student")), "temperature": float(temperature), "alpha": float(alpha),
            "hyperparameters": _hyper(given.get("hyperparameters"), "distill", examples, epochs=3)}  # fmt: skip


def _student(student) -> dict:
    param = "method.distill.student"
    if not isinstance(student, dict) or not student:
        raise InvalidInput(f"student is required: {{\"preset\": one of {', '.join(PRESETS)}}} or its fields "
                           f"{', '.join(STUDENT_FIELDS)}", param=param)  # fmt: skip
    if "preset" in student:
        if set(student) != {"preset"} or student["preset"] not in PRESETS:
            raise InvalidInput(f"student preset must be one of {', '.join(PRESETS)}, alone", param=f"{param}.preset")
        shape = PRESETS[student["preset"]]
        return {"n_layer": shape.n_layer, "n_head": shape.n_head, "n_embd": shape.n_embd, "n_inner": None}
    _fields(student, "distill.student", set(STUDENT_FIELDS))
    resolved: dict = {}
    for name in STUDENT_FIELDS:
        value = student.get(name)
        low, high = SHAPE_LIMITS[name]
        if value is None and name == "n_inner":
            resolved[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"student {name} must be an integer between {low} and {high}", param=f"{param}.{name}")
        resolved[name] = value
    if resolved["n_embd"] % resolved["n_head"]:
        raise InvalidInput("student n_embd must be a multiple of n_head", param=f"{param}.n_head")
    return resolved


def student_of(resolved: dict) -> Student:
    return Student(**resolved["distill"]["student"])


def _hyper(given, kind: str, examples: int, *, epochs: int) -> dict:
    param = f"method.{kind}.hyperparameters"
    given = given or {}
    if not isinstance(given, dict):
        raise InvalidInput("hyperparameters must be an object", param=param)
    unknown = set(given) - set(LIMITS)
    if unknown:
        raise InvalidInput(f"unknown hyperparameter {sorted(unknown)[0]!r}", param=f"{param}.{sorted(unknown)[0]}")
    auto = {"n_epochs": epochs, "batch_size": min(16, max(1, examples // 100)), "learning_rate_multiplier": 1.0}
    return {name: number(name, given.get(name, "auto"), auto[name], kind=kind) for name in LIMITS}
