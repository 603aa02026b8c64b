"""What the registry asks the layer above it: may this caller pull these weights, and at what price.

The registry stores and serves files; whether a model's weights may be downloaded, and for how much, is the
store's rule (marketplace.services.downloads). The marketplace registers its policy in its AppConfig.ready, so the
registry never imports it. Without a registered policy (the registry on its own) weights are as open as the
repository that holds them.
"""

from typing import Protocol

from accounts.models import ApiKey, User
from registry.models import Commit, Model

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx", ".pkl")


def is_weights_file(path: str) -> bool:
    """Files that hold weights: the only ones a policy may withhold or sell. Configs, tokenizers and the card
    are never withheld."""
    return path.lower().endswith(WEIGHT_SUFFIXES)


class DownloadPolicy(Protocol):
    def download_price(self, *, model: Model, user: User | None) -> int | None:
        """Micro-credits `user` (None: anonymous) pays for this model's weights; None if they may not have them."""
        ...

    def grant_weights(
        self, *, model: Model, commit: Commit, user: User | None, api_key: ApiKey | None, pay: bool
    ) -> None:
        """Let the caller fetch a weight file of `commit` (charging it when `pay`), or raise a DomainError."""
        ...


class OpenWeights:
    """The registry alone: whoever can see a repository may download all of it, free."""

    def download_price(self, **_question: object) -> int | None:
        return 0

    def grant_weights(self, **_question: object) -> None:
        return None


_policy: DownloadPolicy = OpenWeights()


def register_download_policy(policy: DownloadPolicy) -> None:
    global _policy  # set once, at start-up, by the app that owns the rule
    _policy = policy


def download_policy() -> DownloadPolicy:
    return _policy
