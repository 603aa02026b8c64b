"""engine/compress on small GPT-2s: the nn.Linear rewrite computes what GPT-2 computes, int8 quantization loads
back through stock transformers, pruning removes exactly the units and blocks that matter least, the parameter
formula counts what torch counts, and the distillation loss is the formula's."""

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

from engine.compress import convert, distill, prune, quantize
from engine.compress.shapes import gpt2_parameters


def gpt2(n_layer=3, n_head=4, n_embd=32, n_inner=None, seed=0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=97, n_positions=40, n_embd=n_embd, n_layer=n_layer, n_head=n_head, n_inner=n_inner,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # biases and LayerNorms away from their initial 0 and 1, so a wrong mapping shows
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model


IDS = torch.tensor([[5, 17, 3, 44, 96, 0, 12, 8], [1, 2, 3, 4, 5, 6, 7, 8]])


def test_gpt2_as_linear_computes_the_same_logits():
    model = gpt2()
    converted = convert.gpt2_as_linear(model)
    assert converted.config.model_type == "gpt_bigcode"
    assert all(type(m).__name__ != "Conv1D" for m in converted.modules())
    with torch.no_grad():
        torch.testing.assert_close(converted(IDS).logits, model(IDS).logits, rtol=0, atol=1e-5)


def test_a_gpt2_option_without_an_equivalent_is_refused():
    model = gpt2()
    model.config.scale_attn_by_inverse_layer_idx = True
    with pytest.raises(convert.NotConvertible, match="scale_attn_by_inverse_layer_idx"):
        convert.gpt2_as_linear(model)


def test_int8_quantization_loads_back_with_stock_transformers(tmp_path, tiny_checkpoint):
    facts = quantize.quantize(tiny_checkpoint, tmp_path / "q")
    assert (facts["quantized_layers"], facts["converted_from"]) == (8, "gpt2")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "q")
    original = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    assert loaded.config.quantization_config.quant_method == "torchao"
    assert type(loaded.transformer.h[1].attn.c_proj.weight).__name__ == "Int8Tensor"
    assert type(loaded.lm_head.weight).__name__ == "Parameter"  # tied to the input embedding: kept in float32
    with torch.no_grad():
        ids = IDS.clamp(max=loaded.config.vocab_size - 1)
        assert (loaded(ids).logits - original(ids).logits).abs().max() < 0.05
    with pytest.raises(quantize.NotQuantizable, match="already quantized"):
        quantize.quantize(tmp_path / "q", tmp_path / "again")


@pytest.mark.parametrize("shape", [(3, 4, 32, None), (2, 2, 64, 100), (1, 1, 8, 8)])
def test_the_parameter_formula_counts_what_torch_counts(shape):
    model = gpt2(*shape)
    assert gpt2_parameters(model.config.to_dict()) == sum(p.numel() for p in model.parameters())


def test_pruning_removes_the_units_that_contribute_nothing_and_keeps_the_function():
    model = gpt2(n_layer=2, n_embd=32)  # 128 MLP units a block
    dead = torch.arange(0, 128, 2)  # every other unit's outgoing weights zeroed: it contributes nothing
    with torch.no_grad():
        for block in model.transformer.h:
            block.mlp.c_proj.weight[dead] = 0
    pruned = prune.prune(model, [IDS[0].tolist(), IDS[1].tolist()], prune.Pruning(ratio=0.5))
    assert (pruned.n_inner, pruned.kept_layers, pruned.model.config.n_inner) == (64, [0, 1], 64)
    assert sum(p.numel() for p in pruned.model.parameters()) == gpt2_parameters(pruned.model.config.to_dict())
    with torch.no_grad():
        torch.testing.assert_close(pruned.model(IDS).logits, model(IDS).logits, rtol=0, atol=1e-5)


def test_pruning_drops_the_block_that_changes_the_residual_stream_least():
    model = gpt2(n_layer=3)
    with torch.no_grad():  # block 1 adds nothing to the residual stream: its output projections are zero
        block = model.transformer.h[1]
        for weight in (
            block.attn.c_proj.weight,
            block.attn.c_proj.bias,
            block.mlp.c_proj.weight,
            block.mlp.c_proj.bias,
        ):
            weight.zero_()
    pruned = prune.prune(model, [IDS[0].tolist()], prune.Pruning(ratio=0.25, drop_layers=1))
    assert pruned.kept_layers == [0, 2]
    assert pruned.block_influence[1] == pytest.approx(0.0, abs=1e-6)
    assert pruned.model.config.n_layer == 2


def test_a_student_as_wide_as_its_teacher_starts_from_evenly_spaced_blocks():
    teacher = gpt2(n_layer=4)
    student = distill.build_student(teacher, distill.Student(n_layer=2, n_head=4, n_embd=32), seed=1)
    for mine, theirs in ((0, 0), (1, 3)):
        torch.testing.assert_close(
            student.transformer.h[mine].mlp.c_fc.weight, teacher.transformer.h[theirs].mlp.c_fc.weight
        )
    torch.testing.assert_close(student.transformer.wte.weight, teacher.transformer.wte.weight)
    assert distill.Student(2, 4, 32).parameters(teacher.config.to_dict()) == sum(
        p.numel() for p in student.parameters()
    )


def test_the_distillation_loss_is_the_formula(tmp_path):
    teacher, student = gpt2(n_layer=2, seed=0), gpt2(n_layer=1, seed=1)
    labels = IDS.clone()
    labels[0, :3] = -100  # a prompt that is not trained
    wrapped = distill.wrap(student, teacher, temperature=2.0, alpha=0.25)
    assert [name for name, _ in wrapped.named_parameters()] == [f"student.{n}" for n, _ in student.named_parameters()]
    output = wrapped(input_ids=IDS, attention_mask=torch.ones_like(IDS), labels=labels)
    with torch.no_grad():
        s, t = student(IDS).logits[:, :-1], teacher(IDS).logits[:, :-1]
        trained = labels[:, 1:] != -100
        p_t = torch.softmax(t[trained] / 2, -1)
        kl = (p_t * (p_t.log() - torch.log_softmax(s[trained] / 2, -1))).sum(-1).mean() * 4
        ce = torch.nn.functional.cross_entropy(s[trained], labels[:, 1:][trained])
    assert float(output.loss.detach()) == pytest.approx(float(0.25 * kl + 0.75 * ce), rel=1e-5)
    wrapped.save_pretrained(tmp_path / "student")  # what a checkpoint commits: the student alone
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "student").config.n_layer == 1
