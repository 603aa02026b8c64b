"""engine/muon.py: the same update as torch.optim.Muon, computed in float32 instead of bfloat16."""

import math

import pytest
import torch

from engine import pretrain
from engine.muon import Muon, orthogonalise


def test_orthogonalise_flattens_the_singular_values():
    torch.manual_seed(0)
    update = torch.randn(32, 96) @ torch.diag(torch.logspace(-2, 1, 96))  # singular values spread over 3 decades
    result = orthogonalise(update, (3.4445, -4.7750, 2.0315), 5, 1e-7)
    assert result.dtype == torch.float32 and result.shape == (32, 96)
    singular = torch.linalg.svdvals(result)
    assert float(singular.min()) > 0.5 and float(singular.max()) < 1.3  # Keller Jordan's iteration: roughly U V^T
    assert torch.equal(orthogonalise(update.T, (3.4445, -4.7750, 2.0315), 5, 1e-7), result.T)  # tall: transposed
    stack = orthogonalise(torch.stack([update, 2 * update.flip(0)]), (3.4445, -4.7750, 2.0315), 5, 1e-7)
    assert torch.allclose(stack[0], result, atol=1e-5)  # a stack: each matrix on its own
    assert torch.allclose(stack[1], result.flip(0), atol=1e-5)


def steps_of(optimizer_class, weight, grads, **kwargs):
    param = torch.nn.Parameter(weight.clone())
    optimizer = optimizer_class([param], lr=0.02, weight_decay=0.1, **kwargs)
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
    return param.detach(), optimizer


@pytest.mark.parametrize("rule", [None, "match_rms_adamw"])
def test_three_steps_match_torch_muon_up_to_its_bfloat16(rule):
    torch.manual_seed(1)
    weight = torch.randn(48, 16)  # (out, in) as nn.Linear: wider out, so the original rule scales by sqrt(3)
    grads = [torch.randn(48, 16) for _ in range(3)]

    ours, optimizer = steps_of(Muon, weight, grads, adjust_lr_fn=rule)
    theirs, _ = steps_of(torch.optim.Muon, weight, grads, adjust_lr_fn=rule)

    moved = (theirs - weight).abs().max()
    assert float(moved) > 0.03  # the step is large enough for the comparison to mean something
    assert torch.allclose(ours, theirs, atol=0.02 * float(moved))  # bfloat16 keeps ~3 significant digits
    assert set(optimizer.state_dict()["state"][0]) == {"momentum_buffer"}  # torch's state, so checkpoints match


def test_fan_in_first_reads_gpt2s_conv1d_weights_the_other_way_round():
    weight, grads = torch.zeros(16, 48), [torch.eye(16, 48)]  # Conv1D: (in, out), 16 in and 48 out
    linear, _ = steps_of(Muon, weight, grads)  # read as nn.Linear's (out, in): 48 in, 16 out, no scaling
    conv, _ = steps_of(Muon, weight, grads, fan_in_first=True)
    assert math.isclose(float(conv.abs().max() / linear.abs().max()), math.sqrt(3), rel_tol=1e-5)


def test_pretrain_gives_muon_the_blocks_matrices_and_adamw_the_rest():
    tokenizer = pretrain.train_tokenizer(pretrain.pretrain_corpus_sample(5), vocab_size=300)
    model = pretrain.build_gpt2(tokenizer, pretrain.PRESETS["tiny"])
    muon, adamw = pretrain.optimizers_for(model, learning_rate=1e-3, muon=pretrain.MuonSettings(0.02, 0.4))
    names = {id(param): name for name, param in model.named_parameters()}
    assert sorted(names[id(p)] for p in muon.param_groups[0]["params"]) == sorted(
        f"transformer.h.{layer}.{part}.weight" for layer in range(2) for part in ("attn.c_attn", "attn.c_proj",
                                                                                  "mlp.c_fc", "mlp.c_proj"))  # fmt: skip
    assert isinstance(muon, Muon) and muon.fan_in_first and muon.param_groups[0]["weight_decay"] == 0.4
    assert isinstance(adamw, torch.optim.AdamW) and len(adamw.param_groups[0]["params"]) + 8 == len(names)
    assert "transformer.wte.weight" in {names[id(p)] for p in adamw.param_groups[0]["params"]}  # tied to the head
    assert [type(o) for o in pretrain.optimizers_for(model, learning_rate=1e-3)] == [torch.optim.AdamW]
