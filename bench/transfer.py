"""Upload and download a 1 GiB file through the HTTP API (LFS signed-URL upload, /resolve/ download) against
gunicorn, compared with raw sequential writes and reads of the same disk measured in the same run; then a 512 MiB
file uploaded by the stock huggingface_hub through Xet, against the same client through LFS (HF_HUB_DISABLE_XET=1),
and uploaded again from a machine without the first one's cache (what the store's counters show it received).

Last line: upload_vs_disk=R download_vs_disk=R rss_growth_mib=N xet_upload_vs_lfs=R xet_reupload_bytes_ratio=R
xet_rss_growth_mib=N"""

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SIZE = int(os.environ.get("BENCH_TRANSFER_BYTES", 1024**3))
XET_SIZE = int(os.environ.get("BENCH_XET_BYTES", 512 * 1024**2))
XET_UPLOAD = """
import sys, time
from huggingface_hub import HfApi
api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])
api.create_repo(sys.argv[3], exist_ok=True)
started = time.perf_counter()
api.upload_file(path_or_fileobj=sys.argv[4], path_in_repo="big.safetensors", repo_id=sys.argv[3])
print(time.perf_counter() - started)
"""
CHUNK = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def disk_write(path: Path, block: bytes) -> float:
    started = time.perf_counter()
    with open(path, "wb") as out:
        for _ in range(SIZE // len(block)):
            out.write(block)
    return SIZE / (time.perf_counter() - started)


def evict(path: Path) -> None:
    """Flush a file and drop it from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def disk_read(path: Path) -> float:
    evict(path)
    started = time.perf_counter()
    with open(path, "rb") as handle:
        while handle.read(CHUNK):
            pass
    return SIZE / (time.perf_counter() - started)


class PeakRss(threading.Thread):
    """Samples the server's total RSS (master + workers) every 20 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def current(self) -> int:
        processes = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes if p.is_running())

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)


def main() -> None:
    (ROOT / "var").mkdir(exist_ok=True)  # a fresh clone has none yet
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-", dir=ROOT / "var"))
    env = {**os.environ, "VAR_DIR": str(work), "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
           "STORAGE_ROOT": str(work / "storage"), "MAX_UPLOAD_BYTES": str(max(SIZE, XET_SIZE) * 2),
           "DEFAULT_STORAGE_QUOTA_BYTES": str((SIZE + XET_SIZE) * 4), "LOG_LEVEL": "WARNING",
           "HTTPS": "0", "REDIS_URL": "redis://127.0.0.1:6379/10"}  # plain http on 127.0.0.1; its own Redis database  # fmt: skip
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            [*manage, "createuser", "bench", "--password", "bench-password-1"],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        key = (
            subprocess.run(
                [*manage, "createkey", "bench", "--scopes", "read,write"],
                env=env,
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        source = work / "source.bin"
        block = os.urandom(CHUNK)
        disk_write_bps = disk_write(source, block)
        disk_read_bps = disk_read(source)
        sha256 = hashlib.sha256()
        with open(source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                sha256.update(chunk)
        oid = sha256.hexdigest()

        port = free_port()
        server = subprocess.Popen(
            [python, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread", "--threads", "4", "-w", "1", "--timeout", "0"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/whoami-v2")
                    break
                except OSError:
                    time.sleep(0.1)

            def call(method, path, body=None, headers=None, blocksize=CHUNK):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=blocksize)
                connection.request(method, path, body=body, headers=headers or {})
                return connection.getresponse()

            call("POST", "/api/repos/create", json.dumps({"name": "big"}), auth).read()
            batch = json.loads(call("POST", "/bench/big.git/info/lfs/objects/batch",
                json.dumps({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": SIZE}]}), auth).read())  # fmt: skip
            href = urllib.parse.urlparse(batch["objects"][0]["actions"]["upload"]["href"]).path

            monitor = PeakRss(server.pid)
            baseline_rss = monitor.current()
            monitor.start()
            started = time.perf_counter()
            with open(source, "rb") as handle:
                response = call("PUT", href, handle, {"Content-Length": str(SIZE)})
                response.read()
            upload_bps = SIZE / (time.perf_counter() - started)
            assert response.status == 200, response.status
            line = json.dumps({"key": "header", "value": {"summary": "big"}}) + "\n" + json.dumps(
                {"key": "lfsFile", "value": {"path": "big.safetensors", "algo": "sha256", "oid": oid, "size": SIZE}})  # fmt: skip
            commit = call(
                "POST", "/api/models/bench/big/commit/main", line, {**auth, "Content-Type": "application/x-ndjson"}
            )
            assert commit.status == 200, commit.read()
            commit.read()

            evict(work / "storage" / "blobs" / oid[:2] / oid[2:4] / oid)
            started = time.perf_counter()
            response = call(
                "GET", "/bench/big/resolve/main/big.safetensors", headers={"Authorization": f"Bearer {key}"}
            )
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
            download_bps = SIZE / (time.perf_counter() - started)
            monitor.running = False
            monitor.join()
            assert total == SIZE, total
            xet = xet_figures(env, work, key, port, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        rss_growth = (monitor.peak - baseline_rss) / 1024**2
        print(f"xet_size_mib={XET_SIZE // 1024**2} lfs_upload_s={xet['lfs_s']:.1f} xet_upload_s={xet['xet_s']:.1f} "
              f"xet_reupload_s={xet['again_s']:.1f} xet_bytes_received={xet['first_bytes']} "
              f"xet_reupload_bytes={xet['again_bytes']}", flush=True)  # fmt: skip
        print(f"size_mib={SIZE // 1024**2} disk_write_mb_s={disk_write_bps / 1e6:.0f} disk_read_mb_s={disk_read_bps / 1e6:.0f} "
              f"upload_mb_s={upload_bps / 1e6:.0f} download_mb_s={download_bps / 1e6:.0f}")  # fmt: skip
        print(
            f"upload_vs_disk={upload_bps / disk_write_bps:.2f} download_vs_disk={download_bps / disk_read_bps:.2f} "
            f"rss_growth_mib={rss_growth:.0f} xet_upload_vs_lfs={xet['lfs_s'] / xet['xet_s']:.2f} "
            f"xet_reupload_bytes_ratio={xet['again_bytes'] / XET_SIZE:.4f} xet_rss_growth_mib={xet['rss_mib']:.0f}",
            flush=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def xet_figures(env: dict, work: Path, key: str, port: int, pid: int) -> dict:
    """The same XET_SIZE file uploaded by the stock client (upload_file, timed around the call: hashing, transfer
    and commit) through LFS (HF_HUB_DISABLE_XET=1) and through Xet, then through Xet again from another HF_HOME;
    seconds, and the xorb bytes the store received each time."""
    source = work / "xet.bin"
    with open(source, "wb") as out:
        for _ in range(XET_SIZE // CHUNK):
            out.write(os.urandom(CHUNK))

    def upload(repo: str, home: str, *, xet: bool = True) -> float:
        client_env = {**os.environ, "HF_HOME": str(work / home), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        client_env.pop("HF_HUB_DISABLE_XET", None)
        if not xet:
            client_env["HF_HUB_DISABLE_XET"] = "1"  # the same client through the git-LFS batch API
        done = subprocess.run([sys.executable, "-c", XET_UPLOAD, f"http://127.0.0.1:{port}", key, repo, str(source)],
                              env=client_env, capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the Xet upload failed: {done.stderr[-3000:]}")
        return float(done.stdout.strip().splitlines()[-1])

    def received() -> int:
        shown = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c",
                                "from registry.xet import xorbs; print(xorbs.counters().get('xorb_bytes_received', 0))"],
                               env=env, cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
        return int(shown.stdout.strip().splitlines()[-1])

    lfs_s = upload("bench/lfs", "home-lfs", xet=False)
    monitor = PeakRss(pid)
    baseline = monitor.current()
    monitor.start()
    xet_s = upload("bench/xet", "home-a")
    monitor.running = False
    monitor.join()
    first = received()
    again_s = upload("bench/xet-again", "home-b")
    return {"lfs_s": lfs_s, "xet_s": xet_s, "again_s": again_s, "first_bytes": first,
            "again_bytes": received() - first, "rss_mib": (monitor.peak - baseline) / 1024**2}  # fmt: skip


if __name__ == "__main__":
    main()
