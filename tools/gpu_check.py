"""What only a GPU can show, in one run (`make gpu-check`, under 8 minutes on one GPU); results go into bench/RESULTS.md.

1. `LotteryCallback` under `to_fp16()` and `to_bf16()` (fastai's autocast on CUDA): after every optimizer step the
   pruned weights are exactly zero and the masks only shrink; the reset puts back the rewind state exactly. RigL
   (`DynamicSparseCallback`) under the same precisions: pruned weights zero after every step, each layer's count fixed,
   its masks moved by the updates (the grow reads the unscaled gradient).
2. A level trained stacked with grouped convolutions (`StackedModel` on CUDA runs Conv-4's members as one grouped
   convolution) against the same members one at a time: the same masks and early stops, losses within 1e-3.
3. The stacked-level bench on the GPU: 9 LeNet-300-100 members and 6 Conv-4 members, stacked against one at a time.
4. A 2:4 ticket's speed: a 4096x4096 Linear at batch 256 in float16, `semi_structured` against the dense layer.

Without CUDA it says so, skips what needs it (fp16 autocast, grouped convolutions, GPU timings, 2:4 kernels), runs 1 (in
bfloat16 where the CPU autocasts it) and 2 on the CPU at a small size, and exits 0 if those pass: the default test
suite runs it this way (`--device cpu`). `--write` puts the results into bench/RESULTS.md (always, on a GPU).
"""
import argparse, json, platform, sys, time, warnings
from pathlib import Path
import torch, torch.nn as nn
from torch.utils.data import TensorDataset
from fastai.basics import *
from lottery_fastai.all import *
import copy as _copy   # (after fastai's star import, which binds `copy` to a function)

ROOT = Path(__file__).resolve().parent.parent
warnings.filterwarnings('ignore')

class _Invariants(Callback):
    "After the lottery callback: pruned weights zero after every step, masks nested, the state at each reset"
    order = 60
    def __init__(self, cb): self.cb,self.problems,self.prev,self.starts = cb,[],{},{}
    def before_batch(self):
        if self.training and self.train_iter in self.cb._bounds: self.starts[self.train_iter] = {k: v.clone() for k,v in self.learn.model.state_dict().items()}
    def after_step(self):
        tk = self.cb.tkt
        for n,m in tk.masks.items():
            if (self.learn.model.get_parameter(n).detach()[~m.to(self.learn.model.get_parameter(n).device)] != 0).any(): self.problems.append(f'{n} not zero at {self.train_iter}')
            if n in self.prev and (m & ~self.prev[n]).any(): self.problems.append(f'{n} regrew at {self.train_iter}')
        self.prev = {n: m.clone() for n,m in tk.masks.items()}

def mixed_precision(device, quick) -> list:
    "Check 1: rows of (precision, problems found, sparsity)"
    rows = []
    for prec in (['fp16', 'bf16'] if device == 'cuda' else ['bf16']):
        if prec == 'bf16' and device == 'cuda' and not torch.cuda.is_bf16_supported(): rows.append(dict(check=f'LotteryCallback {prec}', ok=None, note='no bf16 on this GPU')); continue
        learn = tiny_cnn_learner(device=device)
        learn = learn.to_fp16() if prec == 'fp16' else learn.to_bf16()
        cb = LotteryCallback(60, start_epoch=1, n_rounds=2, verbose=False)
        inv = _Invariants(cb)
        with learn.no_bar(), learn.no_logging(): learn.fit(3, 1e-3, cbs=[cb, inv])
        tk = learn.ticket
        last = cb._bounds[-1]
        want = {k: (v*tk.masks[k].to(v.device) if k in tk.masks else v) for k,v in tk.rewind_state.items()}
        reset_ok = all(torch.equal(inv.starts[last][k].to(want[k].device), want[k]) for k in want)
        ok = not inv.problems and reset_ok and abs(tk.sparsity - 60) < 0.5
        rows.append(dict(check=f'LotteryCallback {prec} on {device}', ok=ok, note=f'sparsity {tk.sparsity:.2f}%; ' + ('; '.join(inv.problems[:3]) or 'zeros after every step, nested masks') + ('' if reset_ok else '; reset differs')))
    return rows

class _DynamicInvariants(Callback):
    "After a DynamicSparseCallback: pruned weights zero after every step, each layer's kept count the first step's"
    order = 60
    def __init__(self): self.problems,self.counts,self.first = [],None,None
    def after_step(self):
        tk = self.learn.ticket
        for n,m in tk.masks.items():
            p = self.learn.model.get_parameter(n).detach()
            if (p[~m.to(p.device)] != 0).any(): self.problems.append(f'{n} not zero at {self.train_iter}')
        counts = {n: int(m.sum()) for n,m in tk.masks.items()}
        if self.counts is None: self.counts,self.first = counts,{n: m.clone() for n,m in tk.masks.items()}
        elif counts != self.counts: self.problems.append(f'counts changed at {self.train_iter}')

def dynamic_precision(device, quick) -> list:
    "Check 1b: RigL under fp16 and bf16 autocast: rows of (precision, problems found, how far the masks moved)"
    rows = []
    for prec in (['fp16', 'bf16'] if device == 'cuda' else ['bf16']):
        if prec == 'bf16' and device == 'cuda' and not torch.cuda.is_bf16_supported(): continue
        learn = tiny_cnn_learner(device=device)
        learn = learn.to_fp16() if prec == 'fp16' else learn.to_bf16()
        inv = _DynamicInvariants()
        with learn.no_bar(), learn.no_logging(): learn.fit(3, 1e-3, cbs=[DynamicSparseCallback(80, 'rigl', update_every=2, verbose=False), inv])
        tk = learn.ticket
        moved = sum(int((tk.masks[n] != inv.first[n]).sum()) for n in tk.masks) if inv.first else 0
        ok = not inv.problems and moved > 0 and abs(tk.sparsity - 80) < 0.5
        rows.append(dict(check=f'DynamicSparseCallback rigl {prec} on {device}', ok=ok, note=f'sparsity {tk.sparsity:.2f}%; {moved} mask entries moved; '
                         + ('; '.join(inv.problems[:3]) or 'zeros after every step, counts fixed')))
    return rows

def stacked_vs_alone(device, quick) -> list:
    "Check 2: a Conv-4 level stacked (grouped convolutions on CUDA) against one at a time"
    full = mnist_dls(bs=60, device=device)
    (xs,ys),(vx,vy) = full.train.dataset.tensors,full.valid.dataset.tensors
    n,nv = (240, 120) if quick else (1200, 500)
    dls = tensor_dls(TensorDataset(xs[:n], ys[:n]), TensorDataset(vx[:nv], vy[:nv]), bs=60, seed=0, device=device)
    def mk(): return Learner(dls, conv4(in_channels=1, img_size=28).to(device), loss_func=CrossEntropyLossFlat(), metrics=accuracy, opt_func=Adam, lr=1e-3)
    kw = dict(rounds=1, rate=50, epochs=1, seed=[0, 1] if quick else [0, 1, 2], controls=['reinit'], verbose=False, train_metrics=False)
    a,b = lottery_experiment(mk, stack=True, **kw),lottery_experiment(mk, stack=False, **kw)
    # the dense trainings (round 0) agree to float rounding; the pruning of weights that ended a rounding apart from the
    # threshold may differ, so the masks are compared by agreement
    r0a,r0b = a.table[a.table['round'] == 0],b.table[b.table['round'] == 0]
    dl = float((r0a['early_stop_loss'].values - r0b['early_stop_loss'].values).__abs__().max())
    agree = min(float((a.tickets[k].masks[n].cpu() == b.tickets[k].masks[n].cpu()).float().mean()) for k in a.tickets for n in a.tickets[k].masks)
    ok = dl < 1e-3 and agree > 0.995 and r0a['early_stop_iter'].tolist() == r0b['early_stop_iter'].tolist()
    return [dict(check=f'Conv-4 level stacked vs one at a time on {device}', ok=ok, note=f'dense round: largest loss difference {dl:.2e}; masks agree on {100*agree:.2f}% of weights (at least)')]

def _sync(device):
    if device == 'cuda': torch.cuda.synchronize()

def level_bench(device, reps, smoke=False) -> list:
    "Bench 3: wall time of a level, stacked against one at a time, on the GPU (`smoke`: a tiny one, to check the code on a CPU)"
    from lottery_fastai.rounds import Member, train_level
    out = []
    dls = mnist_dls(bs=60, device=device)
    if smoke:
        (xs,ys),(vx,vy) = dls.train.dataset.tensors,dls.valid.dataset.tensors
        dls = tensor_dls(TensorDataset(xs[:120], ys[:120]), TensorDataset(vx[:60], vy[:60]), bs=60, seed=0, device=device)
    levels = (('LeNet-300-100', lenet_300_100, 9, 3), ('Conv-4', lambda: conv4(in_channels=1, img_size=28), 6, 1))
    for name,mk,n,ep in (levels if not smoke else [(l[0], l[1], 2, 1) for l in levels]):
        name = f'{name}, {n} members, {ep} epoch(s) of {len(dls.train.dataset)} digits'
        times = {'one at a time': [], 'stacked': []}
        for r in range(reps):
            for k in (list(times) if r % 2 == 0 else list(times)[::-1]):
                ms = []
                for i in range(n):
                    torch.manual_seed(i)
                    l = Learner(dls, mk().to(device), loss_func=CrossEntropyLossFlat(), metrics=accuracy, opt_func=Adam, lr=1.2e-3)
                    tk = Pruner(50, schedule='one_shot', context='local').prune(l.model, Ticket(), 1)
                    ms.append(Member(l, tk, 1, dict(fit_fn='fit', n_epoch=ep, lr=1.2e-3, skip=0), data_seed=0))
                _sync(device); t = time.perf_counter()
                train_level(ms, stack=k == 'stacked', train_metrics=True, verbose=False)
                _sync(device); times[k].append(time.perf_counter() - t)
        one = min(times['one at a time'])
        out += [dict(level=name, variant=k, wall_s_best=round(min(v), 2), wall_s_all=' '.join(f'{x:.2f}' for x in v), one_at_a_time_vs_this=round(one/min(v), 2)) for k,v in times.items()]
    return out

def two_four(reps, device='cuda', size=4096) -> list:
    "Bench 4: a 2:4 Linear (`size` x `size`, batch 256, float16) through semi_structured against dense (on a CPU: the dense fallback, to check the code)"
    torch.manual_seed(0)
    lin = nn.Linear(size, size).to(device)
    dt = torch.float16 if device == 'cuda' else torch.float32
    tk = Pruner(50, '2:4', schedule='one_shot').prune(lin, Ticket(), 1)
    dense = _copy.deepcopy(lin).to(dt).eval()
    sparse = semi_structured(lin, dt)
    x = torch.randn(256, size, device=device, dtype=dt)
    def time_it(m):
        with torch.no_grad():
            for _ in range(10): m(x)
            _sync(device); ts = []
            for _ in range(reps):
                t = time.perf_counter()
                for _ in range(50): m(x)
                _sync(device); ts.append((time.perf_counter() - t)*1e6/50)
        return min(ts)
    kind = sparse.semi_structured_report[0]['kind'] if sparse.semi_structured_report else 'dense'
    with torch.no_grad(): err = float((sparse(x).float() - dense(x).float()).abs().max())
    td,ts = time_it(dense),time_it(sparse)
    return [dict(layer=f'Linear {size}x{size}, batch 256, {str(dt).replace("torch.", "")}', converted=kind, why=sparse.semi_structured_report[0]['why'] if sparse.semi_structured_report else '',
                 dense_us=round(td, 1), two_four_us=round(ts, 1), speedup=round(td/ts, 2), max_abs_diff=f'{err:.1e}')]

def table(rows) -> str:
    if not rows: return '(none)'
    keys = list(rows[0])
    return '\n'.join(['| ' + ' | '.join(keys) + ' |', '|' + '---|'*len(keys)] + ['| ' + ' | '.join(str(r.get(k)) for k in keys) + ' |' for r in rows])

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--quick', action='store_true', help='small sizes (the default suite on a CPU)')
    p.add_argument('--write', action='store_true', help='put the results into bench/RESULTS.md (always on a GPU)')
    p.add_argument('--smoke', action='store_true', help='on a CPU, also run the GPU benches tiny (their code, not their numbers)')
    a = p.parse_args()
    dev,t0 = a.device,time.time()
    if dev == 'cuda' and not torch.cuda.is_available(): sys.exit("--device cuda: no CUDA device here")
    if dev != 'cuda':
        print("No CUDA device: skipping fp16 autocast, grouped convolutions, the GPU timings and the 2:4 kernels; "
              "checking on the CPU what can be checked there (bf16 autocast, a stacked level against one at a time)")
    checks = mixed_precision(dev, a.quick) + dynamic_precision(dev, a.quick) + stacked_vs_alone(dev, a.quick)
    for c in checks: print(('PASS' if c['ok'] else 'SKIP' if c['ok'] is None else 'FAIL'), c['check'], '-', c['note'], flush=True)
    bench,two = [],[]
    if dev == 'cuda' or a.smoke:
        bench = level_bench(dev, 1 if a.quick else 3, smoke=dev != 'cuda'); print(table(bench), flush=True)
        two = two_four(3 if a.quick else 10, dev, 4096 if dev == 'cuda' else 128); print(table(two), flush=True)
    secs = time.time() - t0
    if dev == 'cuda' or a.write:
        name = torch.cuda.get_device_name() if dev == 'cuda' else platform.processor() or 'CPU'
        sec = f"""<!-- gpu: begin -->
## On a GPU (`make gpu-check`)

`make gpu-check` (`python tools/gpu_check.py`) on {name}; torch {torch.__version__}; {secs:.0f} s.

{table(checks)}

{table(bench) if bench else 'No GPU timings (run on a CPU).'}

{table(two) if two else ''}
<!-- gpu: end -->
"""
        out = ROOT/'bench'/'RESULTS.md'
        txt = out.read_text()
        i,j = txt.find('<!-- gpu: begin -->'),txt.find('<!-- gpu: end -->')
        txt = txt[:i] + sec + txt[j+len('<!-- gpu: end -->\n'):] if i >= 0 and j > i else txt.rstrip('\n') + '\n\n' + sec
        out.write_text(txt)
    print(f"{len(checks)} checks, {sum(c['ok'] is False for c in checks)} failed, {secs:.0f} s")
    sys.exit(1 if any(c['ok'] is False for c in checks) else 0)

if __name__ == '__main__': main()
