"""Knowledge distillation: a smaller GPT-2 (the student) learns the parent's (the teacher's) next-token
distributions on a corpus. The loss on each trained token is

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross-entropy(student, token)

(Hinton et al. 2015; T^2 keeps the soft term's gradients the size of the hard one's as T grows). `Distiller` wraps
the student so that engine/finetune.py trains it, with that loop's batching, events, checkpoints and resumable
state: only the student's weights are trained, saved and committed; the teacher stays frozen outside the module
tree. A student as wide as its teacher starts from the teacher's embeddings and evenly spaced blocks (as
DistilBERT), which trains much faster than from random weights. No Django here."""

import dataclasses

from engine.compress.shapes import gpt2_parameters

STUDENT_FIELDS = ("n_layer", "n_head", "n_embd", "n_inner")


@dataclasses.dataclass(frozen=True)
class Student:
    n_layer: int
    n_head: int
    n_embd: int
    n_inner: int | None = None

    def config(self, teacher: dict) -> dict:
        """The student's GPT-2 config: the teacher's vocabulary, context and tokens, this shape."""
        return teacher | {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "n_inner": self.n_inner,
        }

    def parameters(self, teacher: dict) -> int:
        return gpt2_parameters(self.config(teacher))


def build_student(teacher, student: Student, *, seed: int):
    """The student model: from the teacher's embeddings and evenly spaced blocks when it is as wide, else random."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    config = teacher.config.to_dict()
    config.pop("_name_or_path", None)
    model = GPT2LMHeadModel(type(teacher.config).from_dict(student.config(config)))
    if student.n_embd != teacher.config.n_embd:
        return model
    layers = teacher.config.n_layer
    picked = [round(i * (layers - 1) / max(1, student.n_layer - 1)) for i in range(student.n_layer)]
    source = teacher.state_dict()
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("transformer.h."):
            layer, rest = name.removeprefix("transformer.h.").split(".", 1)
            name_there = f"transformer.h.{picked[int(layer)]}.{rest}"
        else:
            name_there = name
        there = source.get(name_there)
        state[name] = there.clone() if there is not None and there.shape == tensor.shape else tensor
    model.load_state_dict(state)
    model.tie_weights()
    return model


def wrap(student, teacher, *, temperature: float, alpha: float):
    """`student` as a module whose forward returns the distillation loss; `teacher` is kept out of its parameters,
    its state dict and its train() mode."""
    import torch
    from torch.nn import functional

    teacher.eval().requires_grad_(False)

    class _Distiller(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.student = student
            self.config = student.config  # the teacher is the closure's: never a submodule

        @property
        def device(self):
            return self.student.device

        def to(self, *args, **kwargs):
            teacher.to(*args, **kwargs)
            return super().to(*args, **kwargs)

        def forward(self, input_ids, attention_mask=None, labels=None):
            labels = input_ids if labels is None else labels
            output = self.student(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
            with torch.no_grad():
                target = teacher(input_ids=input_ids, attention_mask=attention_mask).logits
            trained = labels[:, 1:] != -100  # the positions whose next token the loss is taken on
            student_logits = output.logits[:, :-1][trained] / temperature
            teacher_logits = target[:, :-1][trained] / temperature
            soft = functional.kl_div(functional.log_softmax(student_logits, -1),
                                     functional.log_softmax(teacher_logits, -1), log_target=True,
                                     reduction="batchmean") * temperature**2  # fmt: skip
            output.loss = alpha * soft + (1 - alpha) * output.loss
            return output

        def save_pretrained(self, directory, **kwargs):
            return self.student.save_pretrained(directory, **kwargs)

        def state_dict(self, *args, **kwargs):
            return self.student.state_dict(*args, **kwargs)

        def load_state_dict(self, *args, **kwargs):
            return self.student.load_state_dict(*args, **kwargs)

    return _Distiller()
