"""What an inference worker holds: an LRU of loaded models within a memory budget, and text streaming with stop
strings over a real tokenizer."""

import threading

import pytest
import torch
from transformers import AutoTokenizer

from engine.serving import LoadedModel, ModelCache, TextStream, load_model, pick_dtype


class FakeEngine:
    def __init__(self, active=0):
        self.active, self.stopped = active, False

    def stop(self):
        self.stopped = True


def fake(key, nbytes, active=0):
    return LoadedModel(key=key, model=None, tokenizer=None, engine=FakeEngine(active), nbytes=nbytes)


def test_cache_evicts_the_least_recently_used_model_over_budget():
    cache = ModelCache(budget_bytes=250)
    a, b, c = fake("a", 100), fake("b", 100), fake("c", 100)
    cache.get("a", lambda: a)
    cache.get("b", lambda: b)
    cache.get("a", lambda: pytest.fail("a is cached"))  # a is now the most recent

    cache.get("c", lambda: c)

    assert cache.keys() == ["a", "c"] and cache.used_bytes == 200
    assert b.engine.stopped and not a.engine.stopped


def test_a_model_still_serving_is_not_evicted():
    cache = ModelCache(budget_bytes=150)
    busy, new = fake("busy", 100, active=2), fake("new", 100)
    cache.get("busy", lambda: busy)

    cache.get("new", lambda: new)

    assert cache.keys() == ["busy", "new"] and not busy.engine.stopped


def test_concurrent_first_requests_load_a_model_once():
    cache = ModelCache(budget_bytes=10**9)
    loads = []
    gate = threading.Barrier(8)

    def load():
        loads.append(1)
        return fake("m", 10)

    def get():
        gate.wait()
        cache.get("m", load)

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1


def test_loaded_model_counts_its_bytes_and_generates(tiny_checkpoint):
    from engine.batching import Generation, SamplingParams

    loaded = load_model(tiny_checkpoint, key="tiny", device=torch.device("cpu"), dtype=torch.float32, max_batch=4)
    try:
        assert loaded.nbytes == sum(p.numel() * 4 for p in loaded.model.parameters()) + sum(
            b.numel() * b.element_size() for b in loaded.model.buffers()
        )
        prompt = loaded.tokenizer("def main():")["input_ids"]
        generation = loaded.engine.submit(Generation(prompt, SamplingParams(max_tokens=5, temperature=0.0)))
        assert generation.wait(timeout=60) and len(generation.token_ids) == 5
    finally:
        loaded.engine.stop()


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    return AutoTokenizer.from_pretrained(tiny_checkpoint)


def test_text_stream_sends_deltas_that_add_up_to_the_text(tokenizer):
    ids = tokenizer("The quick brown fox jumps over the lazy dog.")["input_ids"]
    stream = TextStream(tokenizer)

    deltas = [stream.push(token) for token in ids] + [stream.finish()]

    assert "".join(deltas) == tokenizer.decode(ids)


def test_text_stream_decodes_long_text_with_multibyte_characters_as_the_whole_decode(tokenizer):
    text = "Größe → 東京 🙂 naïve café; " * 40 + "def main():\n    return {'ok': True}\n" * 20
    ids = tokenizer(text)["input_ids"]
    stream = TextStream(tokenizer)

    deltas = [stream.push(token) for token in ids]
    tail = stream.finish()

    assert len(ids) > 500 and "".join(deltas) + tail == tokenizer.decode(ids) == text
    assert "\ufffd" not in "".join(deltas)  # half characters were held back, never sent
    assert tail == ""  # nothing was left behind: every complete character went out as it came


def test_text_stream_stops_at_a_stop_string_and_holds_back_its_start(tokenizer):
    ids = tokenizer("alpha beta END gamma")["input_ids"]
    stream = TextStream(tokenizer, stop=(" END",))

    deltas = [stream.push(token) for token in ids]

    assert "".join(deltas) == "alpha beta"
    assert stream.stopped and stream.finish() == ""
    assert " E" not in "".join(deltas)  # a prefix of the stop string never leaked


def test_auto_dtype_is_bfloat16_only_on_a_cpu_with_amx():
    cpu = torch.device("cpu")

    assert pick_dtype("auto", cpu, cpu_capabilities={"amx_bf16": True, "avx512_bf16": True}) is torch.bfloat16
    assert pick_dtype("auto", cpu, cpu_capabilities={"amx_bf16": False, "avx512_bf16": True}) is torch.float32
    assert pick_dtype("auto", cpu, cpu_capabilities={}) is torch.float32
    assert pick_dtype("float32", cpu, cpu_capabilities={"amx_bf16": True}) is torch.float32
    assert pick_dtype("bfloat16", cpu, cpu_capabilities={}) is torch.bfloat16
    # this machine's own answer, from torch's reading of its CPU
    expected = torch.bfloat16 if torch.cpu.get_capabilities().get("amx_bf16") else torch.float32
    assert pick_dtype("auto", cpu) is expected
