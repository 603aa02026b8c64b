"""The embedded default is SQLite: the portable charging statements must work there too."""

import json
import os
import subprocess
import sys

from django.conf import settings


def test_the_money_flow_works_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.marketplace.sqlite_flow"], env=env, cwd=settings.BASE_DIR,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    # 1,000 x 2 + 100 x 6 credits per 1M = 2,600 µc (fee 520), refunded; then 1,000 x 2 + 1,000 x 6 = 8,000 µc
    assert summary == {
        "vendor": "sqlite", "listing": "published", "cost": 2600, "fee": 520, "same_record": True,
        "released_cost": 0, "wallet": 1_000_000 - 8000, "earnings": 6400 - 1000, "audit_ok": True, "problems": [],
        "key_lookup_ok": True, "search": [["alice/tiny-gpt"], [], ["alice/tiny-gpt"]],
    }  # fmt: skip
