"""The Xet protocol (huggingface/xet-core; the specification at huggingface.co/docs/xet), as the store speaks it:
chunking and hashes (chunking.py, hashing.py), the xorb and shard formats (xorb.py, shard.py), CAS tokens (tokens.py),
xorbs kept and indexed (xorbs.py), files registered by shards (files.py), and what the CAS reads back (reads.py).
registry/api/xet.py serves it over HTTP; docs/registry.md says what of Xet is supported."""
