"""Compression of a causal LM into a smaller or cheaper one: int8 weight-only quantization (quantize.py), structured
pruning of GPT-2's MLP and blocks (prune.py) and knowledge distillation into a smaller GPT-2 (distill.py). Plain
torch and transformers, no Django: compression/run.py in a job worker calls these and commits what they save."""
