"""Each model's queue is bounded: calls past INFER_QUEUE_LIMIT are refused until others finish or go stale."""

import pytest

from serving import gateway


@pytest.fixture(autouse=True)
def clean_queue():
    from workers import heartbeat

    gateway._redis().delete("inferq:" + "a" * 40)
    heartbeat.heartbeat()  # an infer worker is up: the bound, not the worker check, is what these tests exercise
    yield
    heartbeat.stop_heartbeat()
    gateway._redis().delete("inferq:" + "a" * 40)


def test_the_bound_admits_up_to_its_limit_and_frees_a_place_when_a_call_ends(settings):
    settings.INFER_QUEUE_LIMIT = 2
    sha = "a" * 40
    gateway.admit_to_queue(commit_sha=sha, request_id="r1")
    gateway.admit_to_queue(commit_sha=sha, request_id="r2")

    with pytest.raises(gateway.QueueFull):
        gateway.admit_to_queue(commit_sha=sha, request_id="r3")
    gateway.leave_queue(commit_sha=sha, request_id="r1")
    gateway.admit_to_queue(commit_sha=sha, request_id="r3")

    assert sorted(gateway._redis().zrange(f"inferq:{sha}", 0, -1)) == ["r2", "r3"]


def test_calls_that_never_finished_drop_out_after_the_timeout(settings):
    settings.INFER_QUEUE_LIMIT = 1
    sha = "a" * 40
    gateway._redis().zadd(f"inferq:{sha}", {"crashed": 1})  # admitted long ago, never finished

    gateway.admit_to_queue(commit_sha=sha, request_id="fresh")

    assert gateway._redis().zrange(f"inferq:{sha}", 0, -1) == ["fresh"]
