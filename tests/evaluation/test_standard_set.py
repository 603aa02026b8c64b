"""The standard set is what its name, version and sha256 say, at least 100 KB of English prose, and shares no
60-character window with the demo model's training text (pydoc topics and the standard library's docstrings)."""

import hashlib

from engine import pretrain
from evaluation import standard_set


def test_the_set_is_the_committed_file_its_sha256_names():
    current = standard_set.load()
    assert (current.name, current.version) == ("pkgdocs", "1")
    assert hashlib.sha256(standard_set.PATH.read_bytes()).hexdigest() == current.sha256 == standard_set.SHA256
    assert [source.split()[0] for source in current.sources] == ["tqdm", "openai", "django-axes", "celery"]
    assert sum(len(document.encode()) for document in current.documents) == 154_557


def test_no_60_character_window_of_the_set_is_in_the_demo_models_training_text():
    demo_text = pretrain.pydoc_corpus() + pretrain.stdlib_docstrings()
    assert sum(map(len, demo_text)) > 1_000_000  # the whole of it, not a sample
    assert standard_set.shared_windows(standard_set.load().documents, demo_text) == set()


def test_the_window_check_finds_a_shared_window():
    shared = "x" * 10 + "the sixty characters both texts hold, word for word, and more" + "y" * 10
    assert standard_set.shared_windows([shared], ["zz" + shared[10:75]]) == {shared[10:70], shared[11:71],
                                                                           shared[12:72], shared[13:73],
                                                                           shared[14:74], shared[15:75]}  # fmt: skip
