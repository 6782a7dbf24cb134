"""Run every notebook's tests with nbdev's own runner (as `nbdev-test` does) and close with `N passed, N failed`.

Usage: python tools/run_tests.py [--flags "slow"] [--n-workers N] [NOTEBOOK ...]
One notebook is one test: it passes when every cell not flagged to skip runs without an exception.
"""
import argparse, os, sys, time
from pathlib import Path
from fastcore.parallel import parallel
from nbdev.config import get_config
from nbdev.test import test_nb

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--flags', default='', help='space-separated cell flags to run that are skipped by default (e.g. slow)')
    p.add_argument('--n-workers', type=int, default=None)
    p.add_argument('notebooks', nargs='*')
    a = p.parse_args()
    cfg = get_config()
    files = [Path(f).absolute() for f in a.notebooks] or sorted(p for p in cfg.nbs_path.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = a.flags.split()
    n_workers = a.n_workers if a.n_workers is not None else min(os.cpu_count() or 1, 4)
    # notebooks run side by side: one intra-op thread each (torch's default, every core per process, oversubscribes the
    # cores: measured on 2 cores, 218 s with it, of which 4 minutes of system time)
    if n_workers > 1: os.environ.setdefault('OMP_NUM_THREADS', '1')
    t0 = time.time()
    os.chdir(cfg.nbs_path)
    res = parallel(test_nb, files, skip_flags=skip, force_flags=force, n_workers=n_workers if len(files) > 1 else 0,
                   basepath=cfg.config_path, do_print=False, cell_timeout=cfg.cell_timeout or None)
    ok = [r[0] for r in res]
    for f,(passed,secs) in zip(files, res): print(f"{'PASS' if passed else 'FAIL'}  {f.name:<28} {secs:6.1f}s")
    print(f"{time.time()-t0:.0f}s in all (flags: {a.flags or 'none'})")
    print(f"{sum(ok)} passed, {len(ok)-sum(ok)} failed")
    sys.exit(0 if all(ok) else 1)

if __name__ == '__main__': main()
