"""Training through the job system against a plain transformers `Trainer`, in the same run, on the same model (a
GPT-2 of about 23M parameters: 12 layers, 384 wide, a 4,096-token BPE tokenizer), data (chunks of Python's
documentation topics as {"text": ...} lines) and hyperparameters (2 epochs, batches of 8, rate 1e-4, constant, no
weight decay, gradients clipped at 1).

    job        a fine-tuning job created with training.jobs.create_job and run by the train worker's own loop
               (jobs.runner.run_jobs, in this process): reading the file, loading the base from the registry,
               metrics events, a checkpoint committed to the result model and the resumable state at each epoch.
               Its figure is the trained tokens over the wall time of the worker's training call (finetune.finetune
               with its metrics events, both checkpoints and the resumable state: everything but loading the base
               and the file); the figure over the whole run_jobs() wall time is printed beside it.
    trainer    transformers.Trainer on the same encoded examples (no evaluation, no saving, no logging); its figure
               is the same tokens over the Trainer's own train_runtime, which leaves out its setup too, and which
               saves nothing.
    checkpoint the time the job spent committing its epoch checkpoints and saving its resumable state, as a share
               of the job's whole wall time.
    memory     a full fine-tune and a LoRA one (r 8 on c_attn, c_proj, c_fc; LoRA runs recompute activations in the
               backward pass), each in a process of its own through
               engine.finetune: the peak resident memory the run added to the process (weights, gradients,
               optimizer state, activations), read from VmHWM against the resident size before the model loaded.
               glibc's mmap threshold is pinned at 64 KiB in those processes so that freed tensors go back to the
               system: otherwise its heap grows to the same ~1.2 GB in both and the peak measures the allocator.

Job and Trainer run alternately, twice each (BENCH_TRAIN_ROUNDS), and the faster run of each counts: on these shared
cores one run of the same work differs from the next by up to 7 %. A scratch PostgreSQL database and Redis database 9. Last line: vs_trainer=R lora_peak_mem_ratio=R ckpt_overhead_pct=P
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "gptstore_bench_train"
EXAMPLES = int(os.environ.get("BENCH_TRAIN_EXAMPLES", 256))
EPOCHS, BATCH, CHUNK_CHARS = 2, 8, 450
ROUNDS = int(
    os.environ.get("BENCH_TRAIN_ROUNDS", 2)
)  # each of job and Trainer runs this often; the best of each counts
LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["c_attn", "c_proj", "c_fc"]}


def records() -> list[dict]:
    from engine import pretrain

    text = "\n".join(pretrain.pydoc_corpus())
    return [{"text": text[start : start + CHUNK_CHARS]} for start in range(0, CHUNK_CHARS * EXAMPLES, CHUNK_CHARS)]


def build_checkpoint(directory: Path) -> Path:
    from engine import pretrain

    tokenizer = pretrain.train_tokenizer(pretrain.pretrain_corpus_sample(), vocab_size=4096)
    shape = pretrain.GPTShape(n_layer=12, n_head=6, n_embd=384, n_positions=256)
    model = pretrain.build_gpt2(tokenizer, shape, dropout=0.0)
    print(f"base model: {model.num_parameters():,} parameters")
    return pretrain.save_checkpoint(model, tokenizer, directory)


def peak_memory(kind: str, checkpoint: str, data: str) -> None:
    """Child process: one fine-tune (full or LoRA) through the engine; prints the resident memory it added."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine import finetune

    def resident() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    torch.set_num_threads(os.cpu_count() or 1)
    examples = [json.loads(line) for line in Path(data).read_text().splitlines()]
    before = resident()
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    hyper = finetune.Hyperparameters(n_epochs=1, batch_size=BATCH, learning_rate_multiplier=1.0, seed=0,
                                     lora=LORA if kind == "lora" else None)  # fmt: skip
    started = time.perf_counter()
    finetune.finetune(model, tokenizer, examples, hyper)
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:  # VmHWM: this process image's peak (ru_maxrss would carry the parent's)
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"added": peak - before, "seconds": seconds}))


def job_runner(checkpoint: Path, data: bytes) -> Callable[[int], tuple[int, float, float, float]]:
    """The base model and the training file in the registry; returns run(n), which creates a job on them, runs it
    through the train worker's loop and returns (tokens trained, wall seconds of run_jobs, of its training call, of
    its checkpointing)."""
    from django.conf import settings

    from accounts import services as accounts
    from engine import finetune, train_state
    from files import services as files
    from jobs import runner
    from marketplace.money import MICRO
    from marketplace.services import ledger
    from registry import services as registry
    from registry.models import Commit, ValidationStatus
    from training import jobs
    from training import run as training
    from training.models import FineTuningJob

    owner = accounts.create_user(username="provider", password="bench-password-1")
    ledger.top_up(user=owner, amount=1_000 * MICRO)
    model = registry.create_model(owner=owner, name="bench-gpt")
    operations = []
    for path in sorted(checkpoint.iterdir()):
        blob = registry.ingest_upload(user=owner, incoming_stream=[path.read_bytes()], size=path.stat().st_size)
        operations.append(registry.AddFile(path=path.name, blob=blob))
    commit = registry.commit_changes(model_id=model.pk, author=owner, operations=operations, message="upload")
    Commit.objects.filter(pk=commit.pk).update(validation_status=ValidationStatus.VALID,
                                               validation_report={"context_length": 256})  # fmt: skip
    dataset = files.create_file(user=owner, filename="bench.jsonl", purpose="fine-tune", data=data)
    spent = {"train": 0.0, "checkpoint": 0.0}

    def timed(function, what: str):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[what] += time.perf_counter() - started

        return wrapper

    training._checkpoint = timed(training._checkpoint, "checkpoint")  # type: ignore[method-assign]
    train_state.save = timed(train_state.save, "checkpoint")  # type: ignore[method-assign]
    finetune.finetune = timed(finetune.finetune, "train")  # type: ignore[method-assign]
    assert settings.CHECKPOINT_EVERY_STEPS == 0

    def run(number: int) -> tuple[int, float, float, float]:
        job = jobs.create_job(user=owner, api_key=None, model="provider/bench-gpt", training_file=dataset.public_id,
                              seed=0, suffix=f"run{number}", hyperparameters={"n_epochs": EPOCHS, "batch_size": BATCH,
                                                                             "learning_rate_multiplier": 1.0})  # fmt: skip
        spent.update(train=0.0, checkpoint=0.0)
        started = time.perf_counter()
        assert runner.run_jobs() == 1
        seconds = time.perf_counter() - started
        job = FineTuningJob.objects.get(pk=job.pk)
        assert job.status == "succeeded", (job.status, job.error)
        assert job.checkpoints.count() == EPOCHS
        return job.trained_tokens, seconds, spent["train"], spent["checkpoint"]

    return run


def with_trainer(checkpoint: Path, examples: list[dict]) -> tuple[int, float]:
    """(tokens trained, the Trainer's train_runtime)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from engine import finetune

    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    encoded = [finetune.encode(tokenizer, record, max_length=256) for record in examples]
    pad = tokenizer.pad_token_id

    def collate(batch):
        longest = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [pad] * (longest - len(item["input_ids"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (longest - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [-100] * (longest - len(item["labels"])) for item in batch]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}

    dataset = [{"input_ids": ids, "labels": labels} for ids, labels in encoded]
    with tempfile.TemporaryDirectory() as output:
        arguments = TrainingArguments(
            output_dir=output, per_device_train_batch_size=BATCH, num_train_epochs=EPOCHS, learning_rate=1e-4,
            lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0, warmup_steps=0, seed=0,
            logging_strategy="no", save_strategy="no", eval_strategy="no", report_to=[], use_cpu=True,
            dataloader_num_workers=0, disable_tqdm=True, remove_unused_columns=False,
        )  # fmt: skip
        result = Trainer(model=model, args=arguments, train_dataset=dataset, data_collator=collate).train()
    tokens = EPOCHS * sum(len(ids) for ids, _ in encoded)
    return tokens, result.metrics["train_runtime"]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) == 5 and sys.argv[1] == "--memory":
        peak_memory(*sys.argv[2:])
        return
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DATABASE}"], check=True)
    subprocess.run([*psql, f"CREATE DATABASE {DATABASE}"], check=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-train-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="redis://127.0.0.1:6379/9", LOG_LEVEL="WARNING", HTTPS="0", CHECKPOINT_EVERY_STEPS="0",
        VAR_DIR=str(scratch / "var"), TRAINING_PRICE_PER_1M_TOKENS="0",
    )  # fmt: skip
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    torch.set_num_threads(os.cpu_count() or 1)
    call_command("migrate", verbosity=0)
    checkpoint = build_checkpoint(scratch / "base")
    examples = records()
    data = scratch / "data.jsonl"
    data.write_text("\n".join(json.dumps(record) for record in examples) + "\n")

    run_job = job_runner(checkpoint, data.read_bytes())
    job_runs, trainer_runs = [], []
    for number in range(1, ROUNDS + 1):  # alternating, so neither is always the one that warms the caches
        job_runs.append(run_job(number))
        tokens, wall, train, saving = job_runs[-1]
        print(f"job {number}:     {tokens:,} tokens; training call {train:.1f} s = {tokens / train:,.0f} tokens/s "
              f"(checkpoints {saving:.1f} s of it); whole run_jobs() {wall:.1f} s = {tokens / wall:,.0f} tokens/s")  # fmt: skip
        trainer_runs.append(with_trainer(checkpoint, examples))
        tokens, runtime = trainer_runs[-1]
        print(f"trainer {number}: {tokens:,} tokens in {runtime:.1f} s = {tokens / runtime:,.0f} tokens/s")
    job_tokens, job_seconds, train_seconds, checkpoint_seconds = min(job_runs, key=lambda run: run[2])
    trainer_tokens, trainer_seconds = min(trainer_runs, key=lambda run: run[1])
    assert trainer_tokens == job_tokens, (trainer_tokens, job_tokens)

    added = {}
    for kind in ("full", "lora"):
        done = subprocess.run([sys.executable, __file__, "--memory", kind, str(checkpoint), str(data)],
                              env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}, capture_output=True, text=True,
                              check=True)  # fmt: skip
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        added[kind] = measured["added"]
        print(f"{kind:5s} fine-tune: peak resident memory +{added[kind] / 2**20:,.0f} MiB, {measured['seconds']:.1f} s")
    print(f"vs_trainer={(job_tokens / train_seconds) / (trainer_tokens / trainer_seconds):.2f} "
          f"lora_peak_mem_ratio={added['lora'] / added['full']:.2f} "
          f"ckpt_overhead_pct={100 * checkpoint_seconds / job_seconds:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
