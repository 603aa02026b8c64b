"""The inference seam: a backend that implements serving.protocol.InferenceBackend, and nothing of Redis or Celery,
is run by the worker, which writes its stream (Start, the backend's entries, Done), cancels its call when the
caller goes away, and ends a call whose model will not load with a Failure."""

import threading

import pytest
import redis
from django.conf import settings

from serving import protocol
from serving.protocol import Done, GenerateRequest, Token
from tests.workers.test_inference import read_stream
from workers import heartbeat, inference


class Echo:
    """Answers each prompt token with its id in angle brackets; a prompt of one token waits for a cancel."""

    name = "echo"

    def __init__(self, wake):
        self.wake, self.ready = wake, set()

    def is_loaded(self, request):
        return request.commit_sha in self.ready

    def load(self, request):
        if request.commit_sha == "broken":
            raise OSError("no weights at that commit")
        self.ready.add(request.commit_sha)

    def submit(self, request):
        return EchoCall(request, self.wake)


class EchoCall:
    def __init__(self, request, wake):
        self.request_id, self.request, self.wake = request.request_id, request, wake
        self.entries, self.lock = [], threading.Lock()

    def run(self):
        ids = self.request.prompt_ids
        if len(ids) > 1:
            self._put([Token(0, f"<{i}>", i) for i in ids] + [Done(("stop",), len(ids), len(ids))])

    def cancel(self):
        self._put([Done(("cancelled",), len(self.request.prompt_ids), 0)])

    def _put(self, entries):
        with self.lock:
            self.entries += entries
        self.wake()

    def drain(self):
        with self.lock:
            entries, self.entries = self.entries, []
        return entries


@pytest.fixture(autouse=True)
def echo_worker(monkeypatch):
    monkeypatch.setattr(inference, "BACKEND", "echo")
    monkeypatch.setitem(inference.BACKENDS, "echo", Echo)
    inference.backend.cache_clear()
    yield
    inference.backend.cache_clear()
    heartbeat.stop_heartbeat()  # the worker's Start entries started it


def request(request_id, prompt, sha="abc"):
    return GenerateRequest(request_id=request_id, commit_id=1, commit_sha=sha, prompt_ids=prompt,
                           params={"max_tokens": 4}, backend="echo")  # fmt: skip


def test_the_worker_streams_what_the_backend_makes():
    summary = inference.run_generation(request("req_echo_1", (5, 6)))

    assert summary == Done(("stop",), 2, 2).fields()
    entries = [protocol.decode(fields) for fields in read_stream("req_echo_1")]
    assert entries == [protocol.Start(heartbeat.heartbeat()), Token(0, "<5>", 5), Token(0, "<6>", 6),
                       Done(("stop",), 2, 2)]  # fmt: skip


def test_a_caller_that_goes_away_cancels_the_backends_call():
    inference.backend().load(request("req_echo_0", (5,)))  # loaded: the worker starts the call without asking
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(protocol.cancel_key("req_echo_2"), 1, ex=60)  # as the gateway does when the client leaves

    summary = inference.run_generation(request("req_echo_2", (5,)))

    assert summary == Done(("cancelled",), 1, 0).fields()


def test_a_model_that_will_not_load_ends_the_stream_with_a_failure():
    with pytest.raises(OSError, match="no weights at that commit"):
        inference.run_generation(request("req_echo_3", (5, 6), sha="broken"))

    entries = [protocol.decode(fields) for fields in read_stream("req_echo_3")]
    assert entries == [protocol.Start(heartbeat.heartbeat()), protocol.Failure("OSError: no weights at that commit")]
