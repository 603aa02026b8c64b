"""The Xet protocol (github.com/huggingface/xet-core, spec/), as far as the store speaks it: its chunking and hashes
(chunking.py, hashing.py) so far. docs/registry.md says what of Xet is supported."""
