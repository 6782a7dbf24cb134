"""Edge-popup and the sampled supermask under fastai's distributed training, and a check that every rank holds the same
masks, scores and weights.

    torchrun --nproc_per_node 2 examples/ddp_supermask.py

Runs on CPUs (accelerate with cpu=True: gloo) or GPUs (nccl). Each rank learns a supermask of LeNet-300-100 on its shard
of the embedded MNIST digits (edge-popup at 50%, then the sampled supermask), one epoch each. Each rank seeds its own
random numbers (the callback's seed is not given), so the ranks agree only because DDP broadcasts rank 0's scores and
all-reduces their gradients, and the callback broadcasts rank 0's seed. At the end every rank's masks, scores and
weights are reduced to a digest and gathered: the script prints "ranks agree" per method and exits 0 when all agree.
"""
import torch, torch.distributed as dist
from fastai.basics import *
from fastai.distributed import *
from lottery_fastai.all import *
import lottery_fastai.distributed  # gloo-aware index broadcast for fastai's DistributedDL (CPU runs)

from lottery_fastai.test_utils import digest  # what every rank gathers

def run(method, sparsity) -> bool:
    set_seed(0, reproducible=True)
    dls = mnist_dls(seed=0, bs=60, device='cpu' if not torch.cuda.is_available() else None)
    learn = Learner(dls, lenet_300_100(), metrics=accuracy, opt_func=partial(SGD, mom=0.9), lr=0.1)
    set_seed(rank_distrib() + 1)   # each rank its own random numbers: its own model initialization and scores before DDP
    learn.model = lenet_300_100()
    cb = SupermaskCallback(sparsity, method, verbose=False)
    with learn.distrib_ctx(cpu=not torch.cuda.is_available()):
        learn.fit(1, 0.1, cbs=cb)
        tk = learn.ticket
        d = digest(list(tk.masks.values()) + list(cb.scores.values()) + list(learn.model.state_dict().values()))
        d = d.to('cuda' if dist.get_backend() == 'nccl' else 'cpu')
        ds = [torch.zeros_like(d) for _ in range(dist.get_world_size())]
        dist.all_gather(ds, d)
        agree = all(torch.equal(ds[0], x) for x in ds[1:])
        acc = learn.validate()[1]
        dist.barrier()
        world = dist.get_world_size()
    if rank_distrib() == 0:
        print(f"{world} ranks, {method}, sparsity {tk.sparsity:.2f}%, accuracy {acc:.3f}, masks/scores/weights digests: "
              f"{'ranks agree' if agree else 'ranks DISAGREE'}")
    return agree

def main():
    torch.set_num_threads(1)
    ok = [run('edge_popup', 50), run('sampled', None)]
    sys.exit(0 if all(ok) else 1)

if __name__ == '__main__': main()
