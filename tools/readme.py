"""Write README.md from nbs/index.ipynb (markdown cells as they are, code cells fenced, hidden cells left out).

nbdev-readme does this through Quarto, which cannot be installed offline; this keeps README.md in sync without it.
`python tools/readme.py --check` exits 1 when README.md differs from what the notebook gives.
"""
import json, sys
from pathlib import Path

def render(nb_path='nbs/index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text())
    out = []
    for c in nb['cells']:
        src = ''.join(c['source']).strip('\n')
        if c['cell_type'] == 'markdown': out.append(src)
        elif c['cell_type'] == 'code' and not any(l.strip().startswith(('#| hide', '#|hide')) for l in src.splitlines()):
            out.append(f'```python\n{src}\n```')
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    txt,readme = render(),Path('README.md')
    if '--check' in sys.argv:
        if readme.read_text() != txt: sys.exit('README.md is out of sync with nbs/index.ipynb: run `make readme`')
        print('README.md is in sync with nbs/index.ipynb')
    else: readme.write_text(txt); print('wrote README.md')
