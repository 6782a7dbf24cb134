"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells fenced with their stored text outputs, hidden cells left out.

nbdev-readme does this through Quarto, which cannot be installed offline; this keeps README.md in sync without it.
`python tools/readme.py --check` exits 1 when README.md differs from what the notebook gives.
"""
import json, sys
from pathlib import Path

def _j(v): return ''.join(v) if isinstance(v, list) else v

def outputs(c) -> str:
    "The cell's text outputs (printed text, or the plain-text form of its result), as they are stored"
    txt = []
    for o in c.get('outputs', []):
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout': txt.append(_j(o['text']))
        elif 'text/plain' in o.get('data', {}) and not any(k.startswith('image/') for k in o['data']): txt.append(_j(o['data']['text/plain']))
    t = '\n'.join(x.rstrip('\n') for x in txt if x.strip())
    return f'\n```text\n{t}\n```' if t else ''

def render(nb_path='nbs/index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text())
    out = []
    for c in nb['cells']:
        src = _j(c['source']).strip('\n')
        if c['cell_type'] == 'markdown': out.append(src)
        elif c['cell_type'] == 'code' and not any(l.strip().startswith(('#| hide', '#|hide')) for l in src.splitlines()):
            out.append(f'```python\n{src}\n```' + outputs(c))
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    txt,readme = render(),Path('README.md')
    if '--check' in sys.argv:
        if readme.read_text() != txt: sys.exit('README.md is out of sync with nbs/index.ipynb: run `make readme`')
        print('README.md is in sync with nbs/index.ipynb')
    else: readme.write_text(txt); print('wrote README.md')
