"""A training file's examples, as the engine trains on them (the file was checked at upload)."""

from engine import datasets
from files import services as files
from files.models import File


def read_records(file: File) -> list[dict]:
    return datasets.parse(files.read_bytes(file)).records
