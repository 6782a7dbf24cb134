#!/usr/bin/env bash
# The release as a user gets it: `make wheel-test` (or `bash tools/wheel_test.sh`).
# Builds the sdist and the wheel (python -m build), checks them (twine check --strict; LICENSE in both, the version in
# their names is lottery_fastai.__version__), installs the wheel in a fresh virtual environment in a temporary folder
# outside the checkout (no --system-site-packages, no PYTHONPATH, run from that folder), and there imports
# lottery_fastai.all and runs `python -m lottery_fastai.demo` for one round of one epoch. Nothing may come from the
# repository: the import is checked to come from the new environment's site-packages.
# PY: the Python with build and twine (default .venv/bin/python, which `make dev` fills); pip's settings (index,
# constraints, cache) apply to the fresh environment's install as to any other.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$root/.venv/bin/python}
work=$(mktemp -d "${TMPDIR:-/tmp}/lottery_fastai_wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$SECONDS
step() { echo "wheel test: $1 ($((SECONDS - t0)) s)"; }

step "building the sdist and the wheel"
"$PY" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$PY" -m twine check --strict "$work"/dist/*
"$PY" - "$work/dist" "$root" <<'EOF'
import re, sys, tarfile, zipfile
from pathlib import Path
dist, root = Path(sys.argv[1]), Path(sys.argv[2])
ver = re.search(r'__version__\s*=\s*"([^"]+)"', (root/'lottery_fastai'/'__init__.py').read_text())[1]
whl, = dist.glob('*.whl'); sd, = dist.glob('*.tar.gz')
assert whl.name.startswith(f'lottery_fastai-{ver}-'), f'wheel {whl.name} is not version {ver}'
assert sd.name == f'lottery_fastai-{ver}.tar.gz', f'sdist {sd.name} is not version {ver}'
lic = (root/'LICENSE').read_bytes()
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    wl = [n for n in names if n.endswith('.dist-info/licenses/LICENSE')]
    assert wl and z.read(wl[0]) == lic, f'the wheel has no LICENSE equal to the repository\'s: {wl}'
    meta = z.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
    assert 'License-Expression: Apache-2.0' in meta and 'License-File: LICENSE' in meta, 'license metadata missing'
    outside = [n for n in names if not n.startswith(('lottery_fastai/', f'lottery_fastai-{ver}.dist-info/'))]
    assert not outside, f'the wheel holds files outside the package: {outside}'
with tarfile.open(sd) as t:
    st = t.extractfile(f'lottery_fastai-{ver}/LICENSE')
    assert st is not None and st.read() == lic, 'the sdist has no LICENSE equal to the repository\'s'
    assert f'lottery_fastai-{ver}/CHANGELOG.md' in t.getnames(), 'the sdist has no CHANGELOG.md'
print(f'{whl.name}: {len(names)} files, LICENSE and License-Expression: Apache-2.0; {sd.name}: LICENSE, CHANGELOG.md')
EOF

step "installing the wheel in a fresh virtual environment ($work/venv)"
base=$("$PY" -c 'import sys; print(sys._base_executable)')
"$base" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-compile "$work"/dist/*.whl 2> >(grep -v "is ignored: it is neither" >&2)

step "importing lottery_fastai.all and running the demo for one round, from $work"
cd "$work"
env -u PYTHONPATH "$work/venv/bin/python" - "$work/venv" <<'EOF'
import sys
from pathlib import Path
import lottery_fastai, lottery_fastai.all as la
from fastai.learner import Learner
f = Path(lottery_fastai.__file__).resolve()
assert f.is_relative_to(Path(sys.argv[1]).resolve()), f'lottery_fastai imported from {f}, not from the fresh environment'
for n in ('LotteryCallback', 'lottery_experiment', 'compare_methods', 'init_ticket', 'save_ticket', 'load_ticket'):
    assert hasattr(la, n), f'lottery_fastai.all lacks {n}'
assert hasattr(Learner, 'find_ticket'), 'lottery_fastai.all did not patch Learner.find_ticket'
print(f'lottery_fastai {lottery_fastai.__version__} from {f.parent}')
EOF
env -u PYTHONPATH OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$work/venv/bin/python" -m lottery_fastai.demo --rounds 1 --epochs 1 \
  --threads 1 --out "$work/demo_out"
test -s "$work/demo_out/rounds.csv" && test -s "$work/demo_out/lenet_ticket.png"
step "passed"
