"""The web side's tokenizer: counts and checks prompts with the served commit's `tokenizer.json` through the
`tokenizers` library, and renders chat templates with transformers' own sandboxed renderer, so web processes never
import torch (transformers' AutoTokenizer does: ~2 s and ~300 MB per process). The ids are the ones the worker's
AutoTokenizer makes: both run the same `tokenizers` pipeline (tests/serving/test_tokenization.py)."""

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from serving.exceptions import TemplateRunaway, TokenizerFilesMissing

# A chat template is the provider's code, run in the web process for every chat call. Its sandbox stops it from
# touching anything, but not from looping: 16 calls to a template that looped made every other request wait 47 s
# (issue #10). So it runs against a deadline, and its output is bounded.
RENDER_SECONDS = 0.5
MAX_RENDERED_CHARS = 1_000_000


# Every file LightTokenizer reads: the web process checks out these alone from a served commit.
TOKENIZER_FILES = frozenset(
    {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "chat_template.jinja"}
)


class LightTokenizer:
    """What the gateway needs of a checkpoint's tokenizer: encode, decode, eos, and the chat template."""

    def __init__(self, directory: Path):
        directory = Path(directory)
        config = _read_json(directory / "tokenizer_config.json")
        texts = {name: _token_text(config.get(name)) for name in ("bos_token", "eos_token", "unk_token", "pad_token")}
        self.special_tokens = {name: text for name, text in texts.items() if text}
        if (directory / "tokenizer.json").is_file():
            self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        elif (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
            self._tokenizer = _byte_level_bpe(directory, sorted(set(self.special_tokens.values())))
        else:
            raise TokenizerFilesMissing(f"{directory} has neither tokenizer.json nor vocab.json and merges.txt")
        self.chat_template = _chat_template(directory, config)
        eos = self.special_tokens.get("eos_token")
        self.eos_token_id = self._tokenizer.token_to_id(eos) if eos else None

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=True).ids

    def decode(self, ids: list[int]) -> str:
        """As transformers' `decode` does by default: special tokens are kept."""
        return self._tokenizer.decode(ids, skip_special_tokens=False)

    def render_chat(self, messages: list[dict], *, seconds: float = RENDER_SECONDS) -> str:
        """The chat template, with the generation prompt, as `apply_chat_template(..., tokenize=False)` renders it.
        Raises TemplateRunaway past `seconds` or MAX_RENDERED_CHARS."""
        from transformers.utils.chat_template_utils import render_jinja_template  # jinja2 sandbox, no torch

        special: dict[str, Any] = dict(self.special_tokens)  # passed on to the template as keywords
        rendered: list[str]  # transformers annotates "-> str"; it returns (renderings, generation indices)
        with _deadline(seconds):
            rendered, _ = render_jinja_template(  # type: ignore[misc]
                conversations=[messages], chat_template=self.chat_template, add_generation_prompt=True,
                **special,
            )  # fmt: skip
        if len(rendered[0]) > MAX_RENDERED_CHARS:
            raise TemplateRunaway(f"the chat template rendered more than {MAX_RENDERED_CHARS} characters")
        return rendered[0]


@contextlib.contextmanager
def _deadline(seconds: float):
    """Raise TemplateRunaway inside the code run in this block (in this thread) once `seconds` have passed. Jinja
    compiles a template to Python, so a trace function sees every line of its loops; the check costs ~0.1 µs a line
    on templates that render in well under a millisecond."""
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def trace(frame, event, arg):  # noqa: ARG001  (sys.settrace's signature)
        if time.monotonic() > deadline:
            raise TemplateRunaway(f"the chat template ran for more than {seconds} s")
        return trace

    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def _byte_level_bpe(directory: Path, special_tokens: list[str]) -> Tokenizer:
    """GPT-2's slow-tokenizer files as transformers converts them to a fast tokenizer (GPT2Converter)."""
    from tokenizers import decoders, models, pre_tokenizers, processors

    tokenizer = Tokenizer(models.BPE.from_file(str(directory / "vocab.json"), str(directory / "merges.txt")))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens(special_tokens)
    return tokenizer


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _token_text(value) -> str | None:
    """Special tokens are written as a string or as an AddedToken dict with 'content'."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _chat_template(directory: Path, config: dict) -> str | None:
    """`chat_template.jinja` (the newer layout) or `chat_template` in tokenizer_config.json; of a list of named
    templates, the one named 'default'."""
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    template = config.get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) and template else None
