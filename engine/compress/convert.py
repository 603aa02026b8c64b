"""GPT-2 rewritten as GPTBigCode with multi_query off: the same network (learned positions, pre-LayerNorm blocks,
biased projections, the same activation, tied embeddings) built from nn.Linear instead of GPT-2's Conv1D.

Quantizers (torchao, compressed-tensors) and the transformers integrations that save and load their checkpoints
look for nn.Linear only, so a GPT-2 quantized as it is keeps all its weights in float32. Rewritten, every
projection is quantized and stock transformers loads the result as `gpt_bigcode`. The logits are those of the
GPT-2 to float rounding (tests/engine/test_compress.py). No Django here."""

UNSUPPORTED = ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention")


class NotConvertible(ValueError):
    """The GPT-2 uses an option GPTBigCode cannot express."""


def gpt2_as_linear(model):
    """A GPTBigCodeForCausalLM computing what the GPT2LMHeadModel `model` computes."""
    from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

    config = model.config
    used = [name for name in UNSUPPORTED if getattr(config, name, False)]
    if used:
        raise NotConvertible(f"this GPT-2 sets {', '.join(used)}, which has no nn.Linear equivalent in transformers")
    converted = GPTBigCodeConfig(
        vocab_size=config.vocab_size, n_positions=config.n_positions, n_embd=config.n_embd, n_layer=config.n_layer,
        n_head=config.n_head, n_inner=config.n_inner, activation_function=config.activation_function,
        layer_norm_epsilon=config.layer_norm_epsilon, multi_query=False, scale_attn_weights=config.scale_attn_weights,
        resid_pdrop=config.resid_pdrop, embd_pdrop=config.embd_pdrop, attn_pdrop=config.attn_pdrop,
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        tie_word_embeddings=True, initializer_range=config.initializer_range,
    )  # fmt: skip
    heads, width = config.n_head, config.n_embd // config.n_head
    state = {}
    for name, tensor in model.state_dict().items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # GPT-2's causal-mask buffers of old checkpoints
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            tensor = tensor.t()  # Conv1D keeps (in, out); nn.Linear (out, in)
        if ".c_attn." in name:  # GPT-2: [q of every head; k; v]; GPTBigCode: per head [q; k; v]
            tensor = tensor.reshape(3, heads, width, *tensor.shape[1:]).transpose(0, 1)
            tensor = tensor.reshape(3 * heads * width, *tensor.shape[3:])
        state[name] = tensor.contiguous()
    result = GPTBigCodeForCausalLM(converted)
    missing, unexpected = result.load_state_dict(state, strict=False)
    if unexpected or [name for name in missing if name != "lm_head.weight"]:
        raise NotConvertible(f"weights that do not map: {sorted(unexpected) or sorted(missing)}")
    result.tie_weights()
    return result.eval()
