"""Upload and download a 1 GiB file through the HTTP API (LFS signed-URL upload, /resolve/ download) against
gunicorn, compared with raw sequential writes and reads of the same disk measured in the same run.

Last line: upload_vs_disk=R download_vs_disk=R rss_growth_mib=N"""

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
           "STORAGE_ROOT": str(work / "storage"), "MAX_UPLOAD_BYTES": str(SIZE * 2),
           "DEFAULT_STORAGE_QUOTA_BYTES": str(SIZE * 4), "LOG_LEVEL": "WARNING"}  # fmt: skip
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
        finally:
            server.terminate()
            server.wait(timeout=30)
        rss_growth = (monitor.peak - baseline_rss) / 1024**2
        print(f"size_mib={SIZE // 1024**2} disk_write_mb_s={disk_write_bps / 1e6:.0f} disk_read_mb_s={disk_read_bps / 1e6:.0f} "
              f"upload_mb_s={upload_bps / 1e6:.0f} download_mb_s={download_bps / 1e6:.0f}")  # fmt: skip
        print(
            f"upload_vs_disk={upload_bps / disk_write_bps:.2f} download_vs_disk={download_bps / disk_read_bps:.2f} rss_growth_mib={rss_growth:.0f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
