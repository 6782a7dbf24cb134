"""Run notebooks and store their outputs, as the documentation shows them: `python tools/execute_nbs.py [--slow] [NOTEBOOK ...]`

Each notebook runs top to bottom in one kernel (execnb, as nbdev-test runs it). Cells flagged `slow` keep the outputs
they have unless `--slow` is given (the tutorials' long runs). Progress-bar redraws (carriage returns) are collapsed to
the line a terminal shows last, so no progress bar reaches a stored output, and warnings printed to stderr are dropped.
The notebook is written back only if every cell ran; `nbdev-clean` then tidies it. Default: every library notebook
(nbs/[0-9]*.ipynb) and the index.
"""
import argparse, os, re, sys, time
from pathlib import Path
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

ROOT = Path(__file__).resolve().parent.parent

_bar = re.compile(r'(Epoch \d+/\d+ : )?\|[-\u2588 ]*\| *[\d.]+% \[[^\]]*\]')

def terminal_text(txt: str) -> str:
    "What a terminal shows of `txt` without progress bars: on each line, what follows the last carriage return, bars removed"
    lines = [_bar.sub('', l.rsplit('\r', 1)[-1]) for l in txt.split('\n')]
    return '\n'.join(l for i,l in enumerate(lines) if l.strip() or i == len(lines)-1)

def tidy(cell):
    outs = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream':
            txt = terminal_text(''.join(o['text']) if isinstance(o['text'], list) else o['text'])
            if o.get('name') == 'stderr' and re.search(r'Warning|warn\(', txt): continue
            if not txt.strip(): continue
            o['text'] = txt
        outs.append(o)
    cell['outputs'] = outs

def run(path: Path, slow: bool) -> bool:
    nb = read_nb(path)
    sh = CaptureShell()
    sh.set_path(path.parent.resolve()); os.chdir(path.parent)
    skip = lambda c: c.cell_type != 'code' or (not slow and re.search(r'^#\|\s*slow', c.source, re.M)) or re.search(r'^#\|\s*eval:\s*false', c.source, re.M)
    t = time.time()
    sh.run_all(nb, exc_stop=True, preproc=skip)
    if sh.exc: print(f"FAIL {path.name}: {sh.exc!r}"); return False
    for c in nb.cells:
        if c.cell_type == 'code': tidy(c)
    write_nb(nb, path)
    print(f"ran  {path.name} in {time.time()-t:.0f}s")
    return True

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--slow', action='store_true', help='run the cells flagged slow too')
    p.add_argument('notebooks', nargs='*')
    a = p.parse_args()
    files = [Path(f).resolve() for f in a.notebooks] or sorted((ROOT/'nbs').glob('[0-9]*.ipynb')) + [ROOT/'nbs'/'index.ipynb']
    ok = all([run(f, a.slow) for f in files])
    os.chdir(ROOT); os.system(f"{sys.executable} -m nbdev.clean" if False else f"{Path(sys.executable).parent/'nbdev-clean'}")
    sys.exit(0 if ok else 1)
