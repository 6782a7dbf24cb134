"""RigL (or SET) under fastai's distributed training, and a check that every rank holds the same masks and weights.

    torchrun --nproc_per_node 2 examples/ddp_dynamic.py [rigl|set]

Runs on CPUs (accelerate with cpu=True: gloo) or GPUs (nccl). Each rank trains LeNet-300-100 on its shard of the
embedded MNIST digits, 90% sparse, the masks updated every 10 steps. Each rank draws its own random numbers (the seed is
not given), so the masks agree only because rank 0's seed and decisions are broadcast. At the end every rank's masks and
weights are reduced to a digest and gathered: the script prints "ranks agree" and exits 0 when they are identical.
"""
import sys
import torch, torch.distributed as dist
from fastai.basics import *
from fastai.distributed import *
from lottery_fastai.all import *
import lottery_fastai.distributed  # gloo-aware index broadcast for fastai's DistributedDL (CPU runs)

from lottery_fastai.test_utils import digest  # what every rank gathers

def main():
    torch.set_num_threads(1)
    method = sys.argv[1] if len(sys.argv) > 1 else 'rigl'
    set_seed(0, reproducible=True)
    dls = mnist_dls(seed=0, bs=60, device='cpu' if not torch.cuda.is_available() else None)
    learn = Learner(dls, lenet_300_100(), metrics=accuracy, opt_func=Adam, lr=1.2e-3)
    rank0 = rank_distrib() == 0
    set_seed(rank_distrib())   # each rank its own random numbers
    cb = DynamicSparseCallback(90, method, update_every=10, verbose=False)
    with learn.distrib_ctx(cpu=not torch.cuda.is_available()):
        learn.fit(1, 1.2e-3, cbs=cb)
        tk = learn.ticket
        world = dist.get_world_size()
        d = digest(list(tk.masks.values()) + list(learn.model.state_dict().values()))
        d = d.to('cuda' if dist.get_backend() == 'nccl' else 'cpu')
        ds = [torch.zeros_like(d) for _ in range(world)]
        dist.all_gather(ds, d)
        agree = all(torch.equal(ds[0], x) for x in ds[1:])
        dist.barrier()
    if rank0:
        print(f"{world} ranks, {method}, {cb.n_updates} mask updates, sparsity {tk.sparsity:.2f}%, masks/weights digests: "
              f"{'ranks agree' if agree else 'ranks DISAGREE'}")
    sys.exit(0 if agree and cb.n_updates > 0 else 1)

if __name__ == '__main__': main()
