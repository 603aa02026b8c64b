"""The snippets of a model page run as they are shown (issue #23): copied from the page, run with the key in
GPTSTORE_API_KEY against a live server and a real infer worker. The Python one read `api_key="$GPTSTORE_API_KEY"`,
a literal string, and got a 401."""

import html
import os
import re
import subprocess
import sys

import pytest

from marketplace.money import MICRO
from marketplace.services import ledger, listings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shown(live_server, client, consumer, make_key, served_commit, infer_worker, tmp_path):
    """The model page's snippets as a signed-in consumer sees them, and an environment holding their key."""
    listings.publish_now(model=served_commit.model, prompt_price="2", completion_price="6", title="Tiny GPT",
                         is_downloadable=True)  # fmt: skip
    ledger.top_up(user=consumer, amount=10 * MICRO)
    client.force_login(consumer)
    page = client.get("/alice/tiny-gpt", HTTP_HOST=live_server.url.removeprefix("http://")).content.decode()
    snippets = {name: html.unescape(text) for name, text in re.findall(r'<pre id="snippet-(\w+)"[^>]*>(.*?)</pre>',
                                                                      page, flags=re.S)}  # fmt: skip
    env = {**os.environ, "GPTSTORE_API_KEY": make_key(consumer, scopes=("read", "infer")), "HF_HOME": str(tmp_path)}
    return snippets, env


def test_the_curl_snippet_runs_as_shown(shown):
    snippets, env = shown

    done = subprocess.run(["bash", "-c", snippets["curl"]], env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert '"object":"chat.completion"' in done.stdout.replace(" ", "") and '"usage"' in done.stdout


def test_the_openai_snippet_runs_as_shown(shown):
    snippets, env = shown

    done = subprocess.run([sys.executable, "-c", snippets["openai"]], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "the answer printed"


def test_the_transformers_snippet_runs_as_its_first_line_says(shown, live_server):
    snippets, env = shown
    first = snippets["transformers"].splitlines()[0]
    assert first == f"# run as: HF_ENDPOINT={live_server.url} HF_TOKEN=$GPTSTORE_API_KEY python this.py"

    env |= {"HF_ENDPOINT": live_server.url, "HF_TOKEN": env["GPTSTORE_API_KEY"]}
    done = subprocess.run([sys.executable, "-c", snippets["transformers"]], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Hello")
