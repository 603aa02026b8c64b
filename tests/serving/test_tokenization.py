"""The web side's tokenizer makes the ids, text and chat prompts that transformers' AutoTokenizer makes, without
importing torch."""

import json
import shutil
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

from serving.tokenization import LightTokenizer, TokenizerFilesMissing

TEXTS = ["def main():", "  indented\tand tabbed\n", "ünïcödé — 漢字 🙂", "<|endoftext|> inside", ""]
TEMPLATE = (
    "{% for m in messages %}{{ bos_token }}<{{ m['role'] }}>{{ m['content'] | trim }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_ids_and_text_are_autotokenizers(tiny_checkpoint):
    reference = AutoTokenizer.from_pretrained(tiny_checkpoint)
    light = LightTokenizer(tiny_checkpoint)

    for text in TEXTS:
        ids = reference(text, add_special_tokens=True)["input_ids"]
        assert light.encode(text) == ids
        assert light.decode(ids) == reference.decode(ids)
    assert [light.decode([i]) for i in range(0, 512, 37)] == [reference.decode([i]) for i in range(0, 512, 37)]
    assert light.eos_token_id == reference.eos_token_id == 0
    assert light.chat_template is None


def test_the_chat_template_renders_as_apply_chat_template(checkpoint_copy):
    config_path = checkpoint_copy / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "chat_template": TEMPLATE}))
    messages = [{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hi?"}]

    rendered = LightTokenizer(checkpoint_copy).render_chat(messages)

    expected = AutoTokenizer.from_pretrained(checkpoint_copy).apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    assert (
        rendered
        == expected
        == "<|endoftext|><system>Be brief.<|endoftext|>\n<|endoftext|><user>Hi?<|endoftext|>\n<assistant>"
    )
    (checkpoint_copy / "chat_template.jinja").write_text("{{ messages[-1]['content'] }}!")
    assert LightTokenizer(checkpoint_copy).render_chat(messages) == "Hi?!"  # the newer layout's file wins


def test_gpt2_slow_tokenizer_files_give_the_same_ids(checkpoint_copy, tmp_path):
    from tokenizers import Tokenizer

    reference = LightTokenizer(checkpoint_copy)
    Tokenizer.from_file(str(checkpoint_copy / "tokenizer.json")).model.save(str(tmp_path))  # vocab.json, merges.txt
    (checkpoint_copy / "tokenizer.json").unlink()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(tmp_path / name, checkpoint_copy / name)

    light = LightTokenizer(checkpoint_copy)

    assert [light.encode(text) for text in TEXTS] == [reference.encode(text) for text in TEXTS]
    assert light.decode(reference.encode(TEXTS[2])) == TEXTS[2]
    (checkpoint_copy / "merges.txt").unlink()
    with pytest.raises(TokenizerFilesMissing):
        LightTokenizer(checkpoint_copy)


def test_loading_and_using_it_never_imports_torch(tiny_checkpoint):
    script = (
        "import sys; from serving.tokenization import LightTokenizer; "
        f"t = LightTokenizer({str(tiny_checkpoint)!r}); t.encode('x'); t.decode([1]); "
        "t.chat_template = '{{ messages[0].content }}'; t.render_chat([{'role': 'user', 'content': 'x'}]); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stderr


LOOPING = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
HUGE = "{% for i in range(100000) %}" + "y" * 20 + "{% endfor %}"


@pytest.mark.parametrize(("template", "reason"), [(LOOPING, "ran for more than"), (HUGE, "more than 1000000")])
def test_a_runaway_chat_template_is_stopped(checkpoint_copy, template, reason):
    """A template looping 10^10 times held a web thread (and the GIL) for as long as it ran (issue #10)."""
    import time

    from serving.tokenization import TemplateRunaway

    (checkpoint_copy / "chat_template.jinja").write_text(template)
    tokenizer = LightTokenizer(checkpoint_copy)

    started = time.monotonic()
    with pytest.raises(TemplateRunaway, match=reason):
        tokenizer.render_chat([{"role": "user", "content": "hi"}])

    assert time.monotonic() - started < 2
    (checkpoint_copy / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    assert LightTokenizer(checkpoint_copy).render_chat([{"role": "user", "content": "hi"}]) == "hi"
