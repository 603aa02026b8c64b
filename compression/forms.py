"""The portal's compress form: the method, its few choices, and for prune and distill a corpus (a new upload or one
of the caller's files). It builds the same `method` the API takes; compression/method.py checks it."""

from django import forms

from engine.pretrain import PRESETS
from training.forms import DatasetForm

METHODS = [("quantize", "Quantize: int8 weight-only (a quarter of the weights' bytes, no training)"),
           ("prune", "Prune: narrow every MLP (and drop blocks), then a recovery fine-tune on a corpus"),
           ("distill", "Distill: train a smaller student on the model's own distributions, on a corpus")]  # fmt: skip


class CompressForm(DatasetForm):
    field_order = ["method", "ratio", "drop_layers", "student", "upload", "dataset", "suffix"]
    method = forms.ChoiceField(choices=METHODS, widget=forms.RadioSelect, initial="quantize")
    ratio = forms.FloatField(required=False, initial=0.5, label="Prune: share of each MLP's units removed (0 to 1)")
    drop_layers = forms.IntegerField(required=False, initial=0, min_value=0, label="Prune: blocks to drop")
    student = forms.ChoiceField(required=False, label="Distill: the student's shape",
                                choices=[(name, f"{name}: {s.n_layer} layers x {s.n_embd} wide")
                                         for name, s in PRESETS.items()])  # fmt: skip
    upload = forms.FileField(required=False, label="Corpus for prune or distill: upload (JSONL or plain text)")
    suffix = forms.RegexField(regex=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z", required=False, max_length=64,
                              help_text="Names the result: (model)-int8|pruned|distilled-(suffix)")  # fmt: skip

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("method") == "distill" and not cleaned.get("upload") and not cleaned.get("dataset"):
            raise forms.ValidationError("Distillation trains on a corpus: upload one or pick one of your files.")
        return cleaned

    def method_spec(self) -> dict:
        kind = self.cleaned_data["method"]
        if kind == "quantize":
            return {"type": "quantize", "quantize": {"bits": 8}}
        if kind == "prune":
            ratio = self.cleaned_data.get("ratio")
            return {"type": "prune", "prune": {"ratio": 0.5 if ratio is None else ratio,
                                               "drop_layers": self.cleaned_data.get("drop_layers") or 0}}  # fmt: skip
        return {"type": "distill", "distill": {"student": {"preset": self.cleaned_data.get("student") or "tiny"}}}
