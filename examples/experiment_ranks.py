"""A lottery experiment whose trainings are shared out over several processes (one per GPU, or CPU processes).

    torchrun --nproc_per_node 2 examples/experiment_ranks.py                 # this machine, 2 CPU processes (gloo)
    torchrun --nproc_per_node 8 examples/experiment_ranks.py                 # one machine with 8 GPUs (nccl, one GPU each)
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d \
             --rdzv_endpoint HOST:29500 examples/experiment_ranks.py         # two machines: run this on both, HOST = the first
    python examples/experiment_ranks.py --as-ranks 2                         # one process, the parts 2 processes train: their table

Nothing in the script is about processes: `lottery_experiment` (like `compare_methods` and `retraining_experiment`)
joins the processes the launcher started, gives each its share of every level's trainings (stacked where the rules
allow), brings every result back to every process and continues identically everywhere. Every process returns the same
experiment; rank 0 alone writes the checkpoint and, here, the table, the curves and the tickets' masks (`--each-rank`:
every rank writes its own copy, to compare them). One process with `--as-ranks N` trains the same parts one after the
other and writes the same files, bit for bit on CPUs; without it, it stacks each level whole, which changes each
training's last digits (and, through the pruning, a few near-threshold weights). An interrupted run started again with
the same command resumes from its last complete step, with any number of processes (one: with --as-ranks). LeNet-300-100 on the 5,000 MNIST
digits that install with the package.
"""
import argparse, time
from pathlib import Path
from fastai.basics import *
from lottery_fastai.all import *

_dls = {}
def make_learner():
    "A fresh LeNet-300-100 learner; the digits are loaded once per process, after it joined the others (so on its own GPU)"
    if 'dls' not in _dls: _dls['dls'] = mnist_dls(seed=0, bs=60)
    return Learner(_dls['dls'], lenet_300_100(), metrics=accuracy, opt_func=Adam, lr=1.2e-3)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--what', default='experiment', choices=['experiment', 'methods', 'retraining', 'all'])
    p.add_argument('--rounds', type=int, default=5, help='pruning rounds after the dense one')
    p.add_argument('--epochs', type=int, default=3, help='epochs of every training')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--checkpoint', default=None, help='a file written after every level, from which an interrupted run resumes')
    p.add_argument('--out', default='ranks_out', help='folder of the tables')
    p.add_argument('--each-rank', action='store_true', help='every rank writes its table (to check that they agree)')
    p.add_argument('--as-ranks', type=int, default=None, help='in one process: train each level as this many processes would share it (the same table, bit for bit, on CPUs)')
    a = p.parse_args()
    out = Path(a.out)
    whats = ['experiment', 'methods', 'retraining'] if a.what == 'all' else [a.what]
    for what in whats:
        ck = None if a.checkpoint is None else f"{a.checkpoint}.{what}" if len(whats) > 1 else a.checkpoint
        t0 = time.perf_counter()
        if what == 'experiment':
            exp = lottery_experiment(make_learner, a.rounds, rate=50, epochs=a.epochs, seed=a.seeds, controls=['reinit', 'random_prune'], checkpoint=ck, as_ranks=a.as_ranks)
        elif what == 'methods':
            exp = compare_methods(make_learner, [50, 80, 90, 95][:a.rounds], methods=['imp', 'snip', 'random'], controls=['shuffle'],
                                  seed=a.seeds, epochs=a.epochs, checkpoint=ck, as_ranks=a.as_ranks)
        else:
            exp = retraining_experiment(make_learner, a.rounds, rate=50, epochs=a.epochs, modes=['reset', 'rewind', 'finetune'], rewind_epoch=0.5, seed=a.seeds, verbose=False, as_ranks=a.as_ranks)
        secs,(rank,n) = time.perf_counter() - t0,world()
        if rank == 0 or a.each_rank:
            out.mkdir(parents=True, exist_ok=True)
            exp.to_csv(out/f'{what}_rank{rank}.csv')   # the table, and the curves beside it
            torch.save({f'{s}|{k}': t.masks for (s,k),t in exp.tickets.items()}, out/f'{what}_masks_rank{rank}.pt')
        if rank == 0:
            print(f"{what}: {len(exp.table)} trainings over {n} process(es) in {secs:.1f} s")
            print(exp.summary().round(4).to_string() if what != 'methods' else exp.method_summary().round(4).to_string())

if __name__ == '__main__': main()
