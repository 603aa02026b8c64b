"""The portal's fine-tune form: a dataset (a new upload or one of the caller's files) and the hyperparameters."""

from django import forms


class PretrainForm(forms.Form):
    corpus = forms.FileField(required=False, label='Upload a corpus (plain UTF-8 text, or {"text": ...} lines)')
    dataset = forms.ChoiceField(required=False, label="or use one of your files")
    preset = forms.ChoiceField(choices=[("tiny", "tiny: 2 layers x 64 wide, 128 tokens of context"),
                                        ("small", "small: 4 layers x 128 wide, 256 tokens"),
                                        ("base", "base: 6 layers x 384 wide, 512 tokens")])  # fmt: skip
    vocab_size = forms.IntegerField(min_value=300, max_value=32_000, initial=4096, label="Vocabulary size")
    n_epochs = forms.IntegerField(required=False, min_value=1, max_value=50, label="Epochs (empty: auto)")
    suffix = forms.RegexField(regex=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z", required=False, max_length=64,
                              help_text="Names the result: gpt-(preset)-(suffix)")  # fmt: skip

    def __init__(self, *args, files, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(f.public_id, f"{f.filename} ({f.examples} texts)") for f in files]
        self.fields["dataset"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField's

    def clean(self):
        cleaned = super().clean() or {}
        if not cleaned.get("corpus") and not cleaned.get("dataset"):
            raise forms.ValidationError("Upload a corpus or pick one of your files.")
        return cleaned

    def method_spec(self) -> dict:
        epochs = self.cleaned_data.get("n_epochs")
        return {"type": "pretrain", "pretrain": {"preset": self.cleaned_data["preset"],
                                                 "vocab_size": self.cleaned_data["vocab_size"],
                                                 "hyperparameters": {"n_epochs": epochs or "auto"}}}  # fmt: skip


class DatasetForm(forms.Form):
    """A dataset: a new upload, or one of the caller's `fine-tune` files (`files`, newest first)."""

    upload = forms.FileField(required=False, label="Upload a dataset (JSONL or plain text)")
    dataset = forms.ChoiceField(required=False, label="or use one of your files")

    def __init__(self, *args, files, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(f.public_id, f"{f.filename} ({f.examples} examples)") for f in files]
        self.fields["dataset"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField's


class FineTuneForm(DatasetForm):
    n_epochs = forms.IntegerField(required=False, min_value=1, max_value=50, label="Epochs (empty: auto)")
    batch_size = forms.IntegerField(required=False, min_value=1, max_value=256, label="Batch size (empty: auto)")
    learning_rate_multiplier = forms.FloatField(required=False, min_value=0.0001, max_value=100,
                                                label="Learning rate multiplier (empty: auto)")  # fmt: skip
    lora = forms.BooleanField(required=False, label="Train LoRA adapters (merged into full weights)")
    suffix = forms.RegexField(regex=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z", required=False, max_length=64,
                              help_text="Names the result: (model)-ft-(suffix)")  # fmt: skip

    def clean(self):
        cleaned = super().clean() or {}
        if not cleaned.get("upload") and not cleaned.get("dataset"):
            raise forms.ValidationError("Upload a dataset or pick one of your files.")
        return cleaned

    def method_spec(self) -> dict:
        given = {name: self.cleaned_data[name] for name in ("n_epochs", "batch_size", "learning_rate_multiplier")}
        hyper = {name: "auto" if value is None else value for name, value in given.items()}
        supervised: dict = {"hyperparameters": hyper}
        if self.cleaned_data.get("lora"):
            supervised["lora"] = {}
        return {"type": "supervised", "supervised": supervised}
