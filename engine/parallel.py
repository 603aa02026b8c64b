"""Data parallelism for one training run over several processes (one per GPU, or gloo processes on a CPU), started
with `accelerate launch` (or torchrun): every process holds the whole model, trains on its share of each batch, and
the gradients are averaged before every step, so every process takes the same step and ends with the same weights.
Run alone (no launcher), a run is one group of one process and nothing here does anything. No Django.

accelerate's PartialState reads what the launcher set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR) and opens the
process group: NCCL between GPUs, gloo between CPU processes."""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Group:
    rank: int = 0
    size: int = 1
    device: Any = None  # this process's device under a launcher (cuda:LOCAL_RANK or cpu); None alone

    @property
    def main(self) -> bool:
        """The one process that reports metrics, writes checkpoints and the run's state."""
        return self.rank == 0

    def shard(self, batch: Sequence) -> list:
        """This process's share of a batch: every size-th example from its rank on (empty when the batch is shorter
        than the group)."""
        return list(batch[self.rank :: self.size])

    def total(self, *counts: float) -> list[float]:
        """Each of `counts` summed over the group."""
        if self.size == 1:
            return list(counts)
        import torch
        import torch.distributed as dist

        summed = torch.tensor(counts, dtype=torch.float64, device=self._collective_device())
        dist.all_reduce(summed)
        return summed.tolist()

    def average_gradients(self, parameters: Iterable) -> None:
        """Replace each gradient with its mean over the group (a parameter without one counts as zero)."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        for param in parameters:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            dist.all_reduce(param.grad)
            param.grad.div_(self.size)

    def agree(self, value):
        """The main process's `value`, on every process (a decision, such as whether to stop, taken once)."""
        if self.size == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def wait(self) -> None:
        """Until every process gets here (after the main one wrote something the others read)."""
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def _collective_device(self):
        return self.device if self.device is not None and self.device.type == "cuda" else "cpu"


ALONE = Group()


def current() -> Group:
    """This process's group: ALONE unless a launcher started several processes."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ALONE
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Group(rank=state.process_index, size=state.num_processes, device=state.device)
