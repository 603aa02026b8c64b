"""A GPT-2's parameter count from its config alone (no torch), as the web process checks that a student is smaller
than its teacher before any worker builds one. No Django here."""


def gpt2_parameters(config: dict) -> int:
    """Parameters of a GPT2LMHeadModel with tied embeddings: what safetensors stores, buffers aside."""
    width, layers = config["n_embd"], config["n_layer"]
    inner = config.get("n_inner") or 4 * width
    block = (
        2 * 2 * width  # two LayerNorms
        + width * 3 * width + 3 * width  # c_attn
        + width * width + width  # attention c_proj
        + width * inner + inner  # c_fc
        + inner * width + width  # mlp c_proj
    )  # fmt: skip
    return config["vocab_size"] * width + config["n_positions"] * width + layers * block + 2 * width
