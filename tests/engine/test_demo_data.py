"""The demo recipe's data: the held-out topics stay out, and the standard library's docstrings are mixed in at the
declared share, the same way every run."""

from pydoc_data.topics import topics

from engine import demo, pretrain


def test_stdlib_docstrings_are_long_prose_and_never_the_topics():
    docstrings = pretrain.stdlib_docstrings()

    assert len(docstrings) > 500
    assert min(len(text) for text in docstrings) > 200
    assert not set(docstrings) & set(topics.values())
    assert any(text.startswith("Heap queue algorithm (a.k.a. priority queue).") for text in docstrings)  # heapq.py


def test_with_docstrings_adds_the_share_of_bytes_and_keeps_every_topic():
    train, held = demo.split(pretrain.pydoc_corpus())
    docstrings = pretrain.stdlib_docstrings()

    mixed = demo.with_docstrings(train, docstrings, share=0.3)

    known = set(train)
    topics_kept = [text for text in mixed if text in known]
    added = [text for text in mixed if text not in known]
    topic_bytes = sum(len(text.encode()) for text in train)
    added_bytes = sum(len(text.encode()) for text in added)
    assert sorted(topics_kept) == sorted(train)  # every topic once, as often as before
    assert not set(mixed) & set(held)
    largest = max(len(text.encode()) for text in docstrings)  # the sample stops at the first past the share
    assert 0.3 <= added_bytes / (topic_bytes + added_bytes) < 0.3 + largest / topic_bytes
    assert mixed == demo.with_docstrings(train, docstrings, share=0.3)  # seeded: the same order every run
    assert mixed[:5] != train[:5]
