"""Find a lottery ticket with fastai's distributed training, and check that every rank agrees.

    torchrun --nproc_per_node 2 examples/ddp_lottery.py

Runs on CPUs (accelerate with cpu=True: gloo) or GPUs (drop `cpu=True`: nccl). Each rank trains on its shard of the
embedded MNIST digits; LotteryCallback prunes LeNet-300-100 to 50% in two rounds with a reset to the initialization.
At the end every rank's masks, weights and rewind state are reduced to a digest and gathered: the script prints
"ranks agree" and exits 0 when they are identical, and exits 1 otherwise. Only rank 0 writes the ticket file.
"""
import os, sys
from pathlib import Path
import torch, torch.distributed as dist
from fastai.basics import *
from fastai.distributed import *
from lottery_fastai.all import *
from lottery_fastai.files import save_ticket
import lottery_fastai.distributed  # gloo-aware index broadcast for fastai's DistributedDL (CPU runs)

from lottery_fastai.test_utils import digest  # what every rank gathers

def main():
    torch.set_num_threads(1)
    out = Path(os.environ.get('LOTTERY_OUT', 'ddp_out'))
    set_seed(0, reproducible=True)
    dls = mnist_dls(seed=0, bs=60, device='cpu' if not torch.cuda.is_available() else None)
    learn = Learner(dls, lenet_300_100(), metrics=accuracy, opt_func=Adam, lr=1.2e-3)
    rank0 = rank_distrib() == 0
    set_seed(rank_distrib())   # each rank draws its own random numbers: the masks agree only because rank 0's are broadcast
    cb = LotteryCallback(50, 'weight', 'global', random, iterative, n_rounds=2, start_epoch=1, verbose=rank0)
    with learn.distrib_ctx(cpu=not torch.cuda.is_available()):
        learn.fit(3, 1.2e-3, cbs=cb)
        tk = learn.ticket
        save_ticket(tk, out/'ticket.safetensors')
        world = dist.get_world_size()
        d = digest(list(tk.masks.values()) + list(learn.model.state_dict().values()) + list(tk.rewind_state.values()))
        d = d.to('cuda' if dist.get_backend() == 'nccl' else 'cpu')
        ds = [torch.zeros_like(d) for _ in range(world)]
        dist.all_gather(ds, d)
        agree = all(torch.equal(ds[0], x) for x in ds[1:])
        dist.barrier()
    if rank0:
        print(f"{world} ranks, sparsity {tk.sparsity:.2f}%, masks/weights/rewind digests: {'ranks agree' if agree else 'ranks DISAGREE'}")
    sys.exit(0 if agree else 1)

if __name__ == '__main__': main()
