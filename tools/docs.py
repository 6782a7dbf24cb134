"""Build the documentation site offline: `python tools/docs.py` (or `make docs`) writes `_docs/`.

The notebooks go through nbdev's own processing (`nbdev.serve.proc_nbs`: show_doc cells added for every exported name,
hidden cells removed, directives applied, stored outputs kept) into `_proc/`. Each processed notebook becomes a Markdown
page: markdown cells as they are, code cells with their stored outputs, every `show_doc` as a signature and a parameter
table (name, type, default and the docment of each parameter, from fastcore's `docments`; as nbdev, no table for a
function that documents none), LaTeX math as MathML (so it renders with no script and no network), and the project's
own names linked to their pages. mkdocs-material builds the site from those pages, with its offline search plugin, so
search works when the site is opened from disk (`file://`) as well as over HTTP. The sidebar groups the pages by what users do (`GROUPS`, `NAV`: each notebook's group and
sidebar title; a notebook missing from `NAV` stops the build with the line to add). No network is used at build or view
time. This is the site GitHub Pages publishes: `.github/workflows/deploy.yaml` runs `make docs` and deploys `_docs/`
(no Quarto).
"""
import html, importlib, inspect, json, re, shutil, subprocess, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parent.parent
EVENTS = {f'{w}_{e}' for w in ('before', 'after', 'after_cancel') for e in ('fit', 'epoch', 'train', 'validate', 'batch', 'pred', 'loss', 'backward', 'step')}
SRC, OUT = ROOT/'_docs_src', ROOT/'_docs'

RENAMED = {'search': 'a-search'}   # page names the site generator keeps for itself (mkdocs' search page)

# ------------------------------------------------------------------ the sidebar: every notebook's group and title
# Grouped by what users do, in this order; a notebook's sidebar title says what its page is for (its URL stays its
# nbdev name). Every notebook under nbs/ must have a line here: `make docs` stops and says which line to add.
GROUPS = ('Start here', 'Configuring a search', 'Experiments and methods', 'Rewinding and stability', 'Deploying a ticket',
          'Scaling out', 'Tutorials', 'Internals')
NAV = {   # notebook (under nbs/, no .ipynb): (group, sidebar title); pages are listed in this order within their group
    'index':                        ('Start here', 'Overview: install, which call do I need'),
    '20_demo':                      ('Start here', 'The demo: a winning ticket for LeNet'),
    '11_callback':                  ('Start here', 'LotteryCallback: a ticket in one fit'),
    '14_rounds':                    ('Start here', 'Round by round: learn.find_ticket'),
    '21_works_with':                ('Start here', 'Works with every fastai learner'),
    '99_all':                       ('Start here', 'One import: lottery_fastai.all'),
    '01_criteria':                  ('Configuring a search', 'Criteria and granularities: what is pruned'),
    '02_schedules':                 ('Configuring a search', 'Schedules: how far each round prunes'),
    '05_pruner':                    ('Configuring a search', 'The pruner: layers, context, layer sparsity'),
    '05a_groups':                   ('Configuring a search', 'Coupled channel groups (granularity group)'),
    '04_ticket':                    ('Configuring a search', 'The ticket: masks, summary, speed-up'),
    '15_experiment':                ('Experiments and methods', 'Experiments: tickets against their controls'),
    '15a_methods':                  ('Experiments and methods', 'Comparing methods: IMP, SNIP, GraSP, SynFlow'),
    '14a_at_init':                  ('Experiments and methods', 'Tickets at initialization'),
    '15b_tracking':                 ('Experiments and methods', 'Watching and keeping long experiments: progress, results, trackers'),
    '11a_dynamic':                  ('Experiments and methods', 'Dynamic sparse training: RigL and SET'),
    '11b_supermask':                ('Experiments and methods', 'Strong tickets: edge-popup and supermasks'),
    '08_models':                    ('Experiments and methods', "Models from the paper"),
    '09_data':                      ('Experiments and methods', 'MNIST data, tensors in memory'),
    '06_search':                    ('Rewinding and stability', 'Rewind points and reset: a search'),
    '16_stability':                 ('Rewinding and stability', 'Stability, rewind search, early-bird tickets'),
    '17_files':                     ('Deploying a ticket', 'Saving and loading tickets'),
    '17a_inference':                ('Deploying a ticket', 'Faster inference of sparse tickets'),
    '18_compact':                   ('Deploying a ticket', 'Compaction and sparse export'),
    '19_distributed':               ('Scaling out', 'Distributed training (torchrun)'),
    'tutorials/lenet_lottery':      ('Tutorials', "Frankle & Carbin's LeNet experiment"),
    'tutorials/seed_walkthrough':   ('Tutorials', 'Winning the Lottery with fastai, step by step'),
    'tutorials/methods_comparison': ('Tutorials', 'Every way of finding a ticket'),
    'tutorials/dynamic_sparse':     ('Tutorials', 'Sparse networks trained from scratch'),
    'tutorials/strong_tickets':     ('Tutorials', 'Strong tickets: subnetworks never trained'),
    'tutorials/stability':          ('Tutorials', 'Rewinding, stability, early-bird tickets'),
    'tutorials/dropout':            ('Tutorials', 'Dropout and winning tickets'),
    'tutorials/compact':            ('Tutorials', 'A smaller, faster ResNet from a group ticket'),
    '00_checks':                    ('Internals', 'Argument checks'),
    '00a_runtime':                  ('Internals', 'Runtime: threads, random states, rank 0'),
    '03_selection':                 ('Internals', 'Selection of the lowest-scoring groups'),
    '10a_events':                   ('Internals', 'Callback events'),
    '12_training':                  ('Internals', 'Training engine: one member, its measures'),
    '13_batched':                   ('Internals', 'Training engine: train_members, stacked fits'),
    '13a_ranks':                    ('Internals', 'Training engine: over processes'),
    '07_checkpoint':                ('Internals', 'Checkpoints and resuming'),
    '10_test_utils':                ('Internals', 'Test utilities: tiny learners'),
    '22_properties':                ('Internals', 'Property tests'),
}

def check_nav(notebooks) -> None:
    "Stop the build when a notebook has no place in the sidebar, or NAV names one that is gone: say what to change"
    have = {str(Path(n).with_suffix('')) for n in notebooks}
    bad = [f"NAV['{k}']: group {v[0]!r} is not one of GROUPS" for k,v in NAV.items() if v[0] not in GROUPS]
    bad += [f"nbs/{n}.ipynb has no place in the sidebar: add a line\n    '{n}': ('<group>', '<sidebar title: what the page is for>'),\n"
            f"  to NAV in tools/docs.py, <group> one of {', '.join(map(repr, GROUPS))} (the library's inner workings: 'Internals')"
            for n in sorted(have - set(NAV))]
    bad += [f"NAV in tools/docs.py places '{n}', but nbs/{n}.ipynb does not exist: remove or rename its line" for n in sorted(set(NAV) - have)]
    if bad: sys.exit('The sidebar (tools/docs.py, NAV):\n' + '\n'.join(bad))

def page_name(rel: Path) -> str:
    "nbdev's page names: numbered notebooks lose their number ('00_core.ipynb' -> 'core.md'), reserved names are changed"
    stem = re.sub(r'^\d+[a-z]?_', '', rel.stem)
    return str(rel.with_name(RENAMED.get(stem, stem) + '.md'))

# ------------------------------------------------------------------ the project's names: where each is documented
def symbols() -> dict:
    "{name: (page, anchor)} for every public name of the library, and the namespace to evaluate `show_doc` targets in"
    import fastai.basics
    ns,where = dict(vars(fastai.basics)),{}
    syms = importlib.import_module('lottery_fastai._modidx').d['syms']
    for mod in syms:
        if mod in ('lottery_fastai.all',): continue
        m = importlib.import_module(mod)
        ns.update(vars(m))
        doc = next((v[0] for v in syms[mod].values()), '')
        page = page_name(Path(doc.split('#')[0])) if doc else None
        lows = [n.lower() for n in getattr(m, '__all__', [])]
        _CASE_TWINS.update(n for n in getattr(m, '__all__', []) if inspect.isclass(getattr(m, n, None)) and lows.count(n.lower()) > 1)
        for n in getattr(m, '__all__', []):   # functions and classes have a show_doc heading; other objects, their page
            o = getattr(m, n, None)
            # a name several modules export is documented where it is defined (`runtime`'s names, re-exported by the
            # modules they came from)
            if page and (n not in where or getattr(o, '__module__', None) == mod):
                where[n] = (page, anchor(n) if inspect.isfunction(o) or inspect.isclass(o) else None)
    return where,ns

_CASE_TWINS = set()   # classes whose lowercased name is also a function's of their module (`Instability`, `instability`)

def anchor(name: str) -> str:
    "A name's heading id: lowercased, as nbdev's; a class whose name only differs by case from a function's gets '-class'"
    return re.sub(r'[^a-z0-9_.-]', '', name.lower()) + ('-class' if name in _CASE_TWINS else '')

# ------------------------------------------------------------------ show_doc: signature and parameter table
def _fmt_default(v):
    if v is inspect.Parameter.empty: return ''
    r = repr(v)
    if hasattr(v, '__name__') and not isinstance(v, str): r = v.__name__
    if isinstance(v, tuple) and all(isinstance(t, type) for t in v): r = '(' + ', '.join(t.__name__ for t in v) + ')'
    return f'`{r}`' if len(r) < 60 else f'`{r[:57]}...`'

def _fmt_anno(a):
    if a is inspect.Parameter.empty or a is None: return ''
    s = a if isinstance(a, str) else getattr(a, '__name__', str(a))
    return f'`{s}`'   # a `|` inside a code span stays in its table cell (Python-Markdown); an entity there would show as text

def _cell(s: str) -> str:
    "`s` for a Markdown table cell: `|` escaped outside code spans"
    return ''.join(p if p.startswith('`') else p.replace('|', '&#124;') for p in re.split(r'(`[^`\n]*`)', s))

def api_doc(expr: str, ns: dict) -> str:
    "Markdown for `show_doc(expr)`: a heading, the signature, the docstring and a table of the parameters"
    from fastcore.docments import docments
    obj = eval(expr, ns)
    name = expr.split('.')[-1] if '.' in expr else expr
    title = expr
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): sig = None
    try: dm = docments(obj, full=True, returns=True, args_kwargs=True)   # `**kwargs`' own comment too
    except Exception: dm = {}
    params = [p for p in (sig.parameters.values() if sig else []) if p.name not in ('self', 'cls')]
    def one(p):
        a = '' if p.annotation is inspect.Parameter.empty else f": {p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, '__name__', p.annotation)}"
        pre = '*' if p.kind == p.VAR_POSITIONAL else '**' if p.kind == p.VAR_KEYWORD else ''
        return f"{pre}{p.name}{a}" + ('' if p.default is inspect.Parameter.empty else f"{' = ' if a else '='}{_fmt_default(p.default).strip('`')}")
    ret = '' if not sig or sig.return_annotation is inspect.Signature.empty else f" -> {_fmt_anno(sig.return_annotation).strip('`')}"
    args = [one(p) for p in params]
    sig_txt = f"{name}({', '.join(args)}){ret}"
    if len(sig_txt) > 90: sig_txt = f"{name}(\n" + ''.join(f"    {a},\n" for a in args) + f"){ret}"
    doc = inspect.getdoc(obj) or ''
    if inspect.isclass(obj) and doc == inspect.getdoc(type): doc = ''
    out = [f'### `{title}` {{#{anchor(expr)} }}', '', f'```python\n{sig_txt}\n```', '']
    if doc: out += [f'*{doc.splitlines()[0]}*', '']
    rows = []
    for p in params:
        d = dm.get(p.name, {}) if isinstance(dm, dict) else {}
        det = (d.get('docment') or '') if isinstance(d, dict) else ''
        anno = p.annotation if p.annotation is not inspect.Parameter.empty else (d.get('anno') if isinstance(d, dict) else None)
        if anno is type(None): anno = None   # docments' guess from a default of None says nothing of the type
        shown = ('*' if p.kind == p.VAR_POSITIONAL else '**' if p.kind == p.VAR_KEYWORD else '') + p.name
        rows.append(f"| `{shown}` | {_fmt_anno(anno)} | {_fmt_default(p.default)} | {_cell(det)} |")
    ret = dm.get('return', {}) if isinstance(dm, dict) else {}
    if isinstance(ret, dict) and (ret.get('docment') or (sig and sig.return_annotation is not inspect.Signature.empty)):
        rows.append(f"| **Returns** | {_fmt_anno(sig.return_annotation if sig else None)} |  | {_cell(ret.get('docment') or '')} |")
    # as nbdev shows it: a table where the function documents its parameters (or its return); its signature otherwise
    documented = isinstance(dm, dict) and any(isinstance(v, dict) and v.get('docment') for k,v in dm.items() if k not in ('self', 'cls'))
    if rows and documented:
        out += ['<div class="params" markdown>', '', '| Parameter | Type | Default | Details |', '|---|---|---|---|', *rows, '', '</div>', '']
    elif not params: out += ['*No parameters.*', '']
    return '\n'.join(out)

# ------------------------------------------------------------------ math as MathML, names as links
_code_span = re.compile(r'(```.*?```|`[^`\n]*`)', re.S)

def math_to_mathml(md: str) -> str:
    "Every `$...$` and `$$...$$` outside code, converted to MathML"
    from latex2mathml.converter import convert
    def conv(txt):
        txt = re.sub(r'\$\$(.+?)\$\$', lambda m: f'<div class="math">{convert(m.group(1), display="block")}</div>', txt, flags=re.S)
        return re.sub(r'(?<![\\$\w])\$([^$\n]+?)\$(?!\w)', lambda m: convert(m.group(1)), txt)
    return ''.join(p if i % 2 else conv(p) for i,p in enumerate(_code_span.split(md)))

DOC_URL = 'https://lottery-fastai.github.io/lottery_fastai/'

def local_links(md: str, here: str) -> str:
    "Links to the published site become links between the pages built here"
    up = '../' if '/' in here else ''
    return re.sub(re.escape(DOC_URL) + r'([\w/]+)\.html', lambda m: up + page_name(Path(m.group(1) + '.html')), md)

def link_names(md: str, where: dict, here: str) -> str:
    "`Name` in prose becomes a link to where `Name` is documented (not inside code blocks, not in headings)"
    def one(m):
        name = m.group(1)
        if name not in where or m.string[max(0, m.start()-1):m.start()] == '[': return m.group(0)
        page,anc = where[name]
        rel = Path(page) if '/' not in here else Path('..')/page
        return f'[`{name}`]({rel}' + (f'#{anc})' if anc else ')')
    parts = _code_span.split(md)
    return ''.join(re.sub(r'^`([A-Za-z_][\w.]*)`$', one, p) if i % 2 and not p.startswith('```') else p for i,p in enumerate(parts))

# ------------------------------------------------------------------ outputs
def _j(v): return ''.join(v) if isinstance(v, list) else v

def render_output(o) -> str:
    t = o.get('output_type')
    if t == 'stream':
        txt = _j(o.get('text', ''))
        if o.get('name') == 'stderr' and re.search(r'Warning|warn\(', txt): return ''
        return _pre(txt, 'output stream')
    if t == 'error': return _pre(f"{o.get('ename', '')}: {o.get('evalue', '')}", 'output error')
    data = o.get('data', {})
    if 'image/png' in data: return f'<div class="output"><img alt="figure" src="data:image/png;base64,{_j(data["image/png"]).strip()}"></div>'
    if 'image/svg+xml' in data: return f'<div class="output">{_j(data["image/svg+xml"])}</div>'
    if 'text/html' in data:
        h = re.sub(r'(?is)<script.*?</script>|<style.*?</style>', '', _j(data['text/html']))
        # a DataFrame's table styled as the site's own tables (mkdocs-material styles tables with no class)
        h = re.sub(r'(?i)<table\b[^>]*>', '<table>', h)
        return f'<div class="output html" markdown="0">{h}</div>'
    if 'text/markdown' in data: return _j(data['text/markdown'])
    if 'text/plain' in data: return _pre(_j(data['text/plain']), 'output')
    return ''

def _pre(txt, cls): return f'<pre class="{cls}">{html.escape(txt.rstrip(chr(10)))}</pre>'

def directives(src):
    d,keep = {},[]
    for line in src.splitlines():
        m = re.match(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*)$', line)
        if m: d[m.group(1)] = m.group(2).strip()
        else: keep.append(line)
    return d,'\n'.join(keep).strip('\n')

def render_nb(nb, where, ns, here) -> tuple:
    parts,title,desc = [],None,None
    for c in nb['cells']:
        src = _j(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            title,desc = fm.get('title', title),fm.get('description', desc)
            continue
        if c['cell_type'] == 'markdown':
            if src.lstrip().startswith('<!-- WARNING'): continue
            parts.append(local_links(link_names(math_to_mathml(src), where, here), here)); continue
        if c['cell_type'] != 'code': continue
        d,code = directives(src)
        if d.get('include') == 'false': continue
        m = re.fullmatch(r'show_doc\((.+)\)', code.strip())
        if m and (m.group(1).split('.')[-1].startswith('__') or m.group(1).split('.')[-1] in EVENTS): continue   # hooks and callback events are not API
        if m:
            try: parts.append(api_doc(m.group(1), ns))
            except Exception as e: raise RuntimeError(f"show_doc({m.group(1)}): {e}") from e
            continue
        block = '' if d.get('echo') == 'false' or not code.strip() else f'```python\n{code}\n```'
        outs = [render_output(o) for o in c.get('outputs', [])] if d.get('output') != 'false' else []
        outs = [o for o in outs if o]
        if block or outs: parts.append('\n\n'.join([block] + outs if block else outs))
    return title,desc,'\n\n'.join(parts)

# ------------------------------------------------------------------ the site
CSS = """
/* a wide content column: the page's contents sit in the left sidebar (toc.integrate), the column takes the rest, so
   a code line of 135 characters fits at 1300 px; a longer line wraps with a hanging indent instead of scrolling sideways */
.md-grid { max-width: 90rem; }
.md-typeset pre > code { font-size: .75em; white-space: pre-wrap; overflow-wrap: anywhere; }
.md-typeset pre > code > span[id^="__span-"] { display: block; padding-left: 4ch; text-indent: -4ch; }
.md-typeset .output { margin: .2em 0 1.2em; }
.md-typeset pre.output { background: #f7f7f9; border-left: 3px solid #b0bec5; padding: .5em .8em; font-size: .6rem;
                         white-space: pre-wrap; overflow-wrap: anywhere; }
.md-typeset pre.output.error { border-left-color: #e53935; }
.md-typeset div.output.html { max-width: 100%; overflow-x: auto; }
/* a DataFrame's table: the site's table look; wider than the column (many columns), it scrolls inside its frame */
.md-typeset div.output.html .md-typeset__scrollwrap { margin: .2em 0; }
.md-typeset div.output.html table:not([class]) { font-size: .64rem; }
.md-typeset div.output.html table:not([class]) :is(th, td) { padding: .3em .55em; }
.md-typeset div.output img { max-width: 100%; }
.md-typeset h3[id] { border-top: 1px solid #e0e0e0; padding-top: .8em; }
.md-typeset .description { font-size: 1.05em; color: #555; border-left: 4px solid #3f51b5; padding-left: .8em; }
.md-typeset math { font-size: 1.05em; }
.md-typeset table:not([class]) { display: table; }
.md-typeset .md-typeset__scrollwrap { overflow-x: auto; }
/* parameter tables: a parameter's name and type never break inside a word */
.md-typeset .params td:nth-child(-n+3) code { white-space: nowrap; word-break: normal; overflow-wrap: normal; }
.md-typeset .params td:nth-child(-n+3) { white-space: nowrap; }
.md-typeset .params td:last-child { width: 100%; }
.md-typeset .params table:not([class]) { font-size: .7rem; }
"""

def build(run_mkdocs=True):
    sys.path.insert(0, str(ROOT))
    nb_dir = ROOT/'nbs'
    check_nav([p.relative_to(nb_dir) for p in nb_dir.rglob('*.ipynb') if not any(x.startswith(('.', '_')) for x in p.relative_to(nb_dir).parts)])
    from nbdev.serve import proc_nbs
    cache = Path(proc_nbs(force=False, n_workers=0))
    where,ns = symbols()
    if SRC.exists(): shutil.rmtree(SRC)
    (SRC/'docs').mkdir(parents=True)
    nbs = sorted(p for p in cache.rglob('*.ipynb') if not any(x.startswith('.') for x in p.relative_to(cache).parts))
    pages = []
    for p in nbs:
        rel = p.relative_to(cache)
        url = 'index.md' if rel.name == 'index.ipynb' else page_name(rel)
        title,desc,body = render_nb(json.loads(p.read_text()), where, ns, url)
        h1 = re.search(r'^# (.+)$', body, re.M)
        title = title or (h1.group(1) if h1 else rel.stem)
        head = '' if h1 else f'# {title}\n\n'
        lead = f'{link_names(desc, where, url)}\n{{: .description }}\n\n' if desc else ''
        dest = SRC/'docs'/url; dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(head + lead + body + '\n')
        pages.append(dict(url=url, title=title.replace('`', ''), nb=str(rel.with_suffix(''))))
    (SRC/'docs'/'extra.css').write_text(CSS)
    # the search worker from file://: the offline plugin would load this shim from unpkg.com; the site ships its copy
    (SRC/'docs'/'assets').mkdir(exist_ok=True)
    shutil.copy(ROOT/'tools'/'assets'/'iframe-worker-shim.js', SRC/'docs'/'assets'/'iframe-worker-shim.js')
    nav = [{g: [{NAV[k][1]: pg['url']} for k in NAV for pg in pages if pg['nb'] == k and NAV[k][0] == g]} for g in GROUPS]
    nav = [n for n in nav if next(iter(n.values()))]
    cfg = dict(site_name='lottery_fastai', site_url='', docs_dir='docs', site_dir=str(OUT), use_directory_urls=False,
               theme=dict(name='material', features=['navigation.sections', 'navigation.top', 'toc.integrate', 'search.highlight', 'content.code.copy'],
                          palette=dict(primary='indigo'), font=False),   # no web fonts: nothing is fetched when the site is read
               extra=dict(polyfills=['assets/iframe-worker-shim.js']),
               extra_css=['extra.css'], plugins=['search', 'offline'], nav=nav,
               markdown_extensions=['tables', 'attr_list', 'md_in_html', 'admonition', 'toc', 'pymdownx.superfences',
                                    {'pymdownx.highlight': dict(use_pygments=True, line_spans='__span')}])
    (SRC/'mkdocs.yml').write_text(yaml.safe_dump(cfg, sort_keys=False))
    if run_mkdocs:
        if OUT.exists(): shutil.rmtree(OUT)
        r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '-q', '-f', str(SRC/'mkdocs.yml')], cwd=SRC)
        if r.returncode: sys.exit(f'mkdocs build failed ({r.returncode})')
        print(f"wrote {len(pages)} pages to {OUT}")
    return pages

if __name__ == '__main__': build()
