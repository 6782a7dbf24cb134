"""Build the documentation site offline: `python tools/docs.py` (or `make docs`) writes `_docs/`.

The notebooks go through nbdev's own processing (`nbdev.serve.proc_nbs`: show_doc cells added and executed into
signatures and docments, hidden cells removed, directives applied, stored outputs kept) into `_proc/`; each processed
notebook is then rendered to a static HTML page with markdown-it-py and Pygments (PyPI only), with a navigation sidebar
and a search box backed by `search.json`. No network is used at build or view time. Where Quarto exists, `nbdev-docs`
builds the usual Quarto site from the same notebooks instead.
"""
import html, json, re, shutil, sys
from pathlib import Path
import yaml
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.lexers import PythonLexer, get_lexer_by_name
from pygments.formatters import HtmlFormatter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'_docs'
md = MarkdownIt('commonmark', {'html': True}).enable('table').enable('strikethrough')

def page_name(rel: Path) -> str:
    "nbdev's page names: numbered notebooks lose their number ('00_core.ipynb' -> 'core.html')"
    stem = re.sub(r'^\d+[a-z]?_', '', rel.stem)
    return str(rel.with_name(stem + '.html'))

def code_html(src, lang='python'):
    try: lexer = get_lexer_by_name(lang)
    except Exception: lexer = PythonLexer()
    return highlight(src, lexer, HtmlFormatter(nowrap=False, cssclass='highlight'))

def directives(src):
    d,keep = {},[]
    for line in src.splitlines():
        m = re.match(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*)$', line)
        if m: d[m.group(1)] = m.group(2).strip()
        else: keep.append(line)
    return d,'\n'.join(keep).strip('\n')

def render_output(o, asis):
    t = o.get('output_type')
    if t == 'stream':
        txt = ''.join(o.get('text', ''))
        if o.get('name') == 'stderr' and ('Warning' in txt or 'warn(' in txt): return ''
        return f'<pre class="output stream">{html.escape(txt)}</pre>'
    if t == 'error': return f'<pre class="output error">{html.escape(o.get("ename", ""))}: {html.escape(o.get("evalue", ""))}</pre>'
    data = o.get('data', {})
    j = lambda k: ''.join(data[k]) if isinstance(data[k], list) else data[k]
    if 'image/png' in data: return f'<div class="output"><img alt="figure" src="data:image/png;base64,{j("image/png").strip()}"></div>'
    if 'image/svg+xml' in data: return f'<div class="output">{j("image/svg+xml")}</div>'
    if 'text/markdown' in data: return f'<div class="output md">{md.render(j("text/markdown"))}</div>'
    if 'text/html' in data:
        h = j('text/html')
        if '<script' in h.lower(): h = re.sub(r'(?is)<script.*?</script>', '', h)
        return f'<div class="output html">{h}</div>'
    if 'text/plain' in data: return f'<pre class="output">{html.escape(j("text/plain"))}</pre>'
    return ''

def render_nb(nb, doc_url):
    parts,title,desc = [],None,None
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            title,desc = fm.get('title', title),fm.get('description', desc)
            continue
        if c['cell_type'] == 'markdown':
            if src.lstrip().startswith('<!-- WARNING'): continue
            h = md.render(src)
            if doc_url: h = h.replace(f'href="{doc_url}', 'href="' + '{ROOT}')
            parts.append(f'<div class="cell md">{h}</div>')
        elif c['cell_type'] == 'code':
            d,code = directives(src)
            if d.get('include') == 'false': continue
            asis = d.get('output') == 'asis'
            block = '' if d.get('echo') == 'false' or not code.strip() else code_html(code)
            outs = ''.join(render_output(o, asis) for o in c.get('outputs', [])) if d.get('output') != 'false' else ''
            if block or outs: parts.append(f'<div class="cell code">{block}{outs}</div>')
    return title,desc,'\n'.join(parts)

CSS = HtmlFormatter().get_style_defs('.highlight') + """
body{margin:0;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;line-height:1.5}
nav{position:fixed;top:0;left:0;bottom:0;width:250px;overflow:auto;background:#f6f7f9;border-right:1px solid #ddd;padding:1em}
nav h1{font-size:1.2em;margin:0 0 .5em} nav a{display:block;padding:.15em 0;color:#2456a6;text-decoration:none} nav a.current{font-weight:bold}
nav .group{margin-top:.8em;font-size:.8em;text-transform:uppercase;color:#666}
#search{width:100%;box-sizing:border-box;padding:.35em;margin-bottom:.6em} #results a{font-size:.9em}
main{margin-left:290px;max-width:1000px;padding:1em 2em 4em}
.description{font-size:1.15em;color:#555;border-left:4px solid #2456a6;padding-left:.8em}
pre{background:#f8f8f8;padding:.6em;overflow:auto;border-radius:4px;font-size:.85em}
.output{margin:.3em 0 1em} .output img{max-width:100%} table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ddd;padding:.2em .5em}
.output.md{border-top:1px solid #eee} code{background:#f1f1f1;padding:0 .2em;border-radius:3px}
"""

JS = """
let IDX=null;
async function search(q){
  if(!IDX){ const r = await fetch(ROOT_PREFIX+'search.json'); IDX = await r.json(); }
  const out=document.getElementById('results'); out.innerHTML='';
  q=q.trim().toLowerCase(); if(q.length<2) return;
  for(const p of IDX){ const i=p.text.toLowerCase().indexOf(q);
    if(p.title.toLowerCase().includes(q) || i>=0){ const a=document.createElement('a'); a.href=ROOT_PREFIX+p.url; a.textContent=p.title; out.appendChild(a);} }
}
document.getElementById('search').addEventListener('input', e=>search(e.target.value));
"""

def build():
    from nbdev.serve import proc_nbs
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    cache = Path(proc_nbs(force=False, n_workers=0))
    doc_url = (cfg.get('doc_url') or '').rstrip('/') + '/' if cfg.get('doc_url') else ''
    if OUT.exists(): shutil.rmtree(OUT)
    OUT.mkdir()
    nbs = sorted(p for p in cache.rglob('*.ipynb') if not any(x.startswith('.') for x in p.parts))
    pages = []
    for p in nbs:
        rel = p.relative_to(cache)
        nb = json.loads(p.read_text())
        title,desc,body = render_nb(nb, doc_url)
        url = 'index.html' if rel.name == 'index.ipynb' else page_name(rel)
        h1 = re.search(r'<h1>(.*?)</h1>', body)
        title = title or (re.sub('<.*?>', '', h1.group(1)) if h1 else rel.stem)
        pages.append(dict(url=url, title=title, desc=desc, body=body, group='Tutorials' if rel.parts[0] == 'tutorials' else 'API'))
    pages.sort(key=lambda d: (d['url'] != 'index.html', d['group'] != 'API', d['url']))
    idx = [dict(url=pg['url'], title=pg['title'], text=re.sub(r'\s+', ' ', re.sub('<.*?>', ' ', pg['body']))[:20000]) for pg in pages]
    (OUT/'search.json').write_text(json.dumps(idx))
    (OUT/'style.css').write_text(CSS)
    (OUT/'search.js').write_text(JS)
    for pg in pages:
        depth = pg['url'].count('/')
        root = '../'*depth
        nav,group = [],None
        for q in pages:
            if q['group'] != group and q['url'] != 'index.html': group = q['group']; nav.append(f'<div class="group">{group}</div>')
            cur = ' class="current"' if q is pg else ''
            nav.append(f'<a href="{root}{q["url"]}"{cur}>{html.escape(q["title"].replace("`", ""))}</a>')
        body = pg['body'].replace('href="{ROOT}', f'href="{root}')
        body = re.sub(r'href="' + re.escape(root) + r'([\w/]+)\.html\.md', lambda m: f'href="{root}{m.group(1)}.html', body)
        desc = f'<p class="description">{html.escape(pg["desc"])}</p>' if pg['desc'] else ''
        head_title = f'<h1>{md.renderInline(pg["title"])}</h1>' if '<h1>' not in body else ''
        doc = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(pg['title'].replace('`', ''))} – lottery_fastai</title><link rel="stylesheet" href="{root}style.css"><link rel="icon" href="data:,"></head>
<body><nav><h1><a href="{root}index.html">lottery_fastai</a></h1><input id="search" type="search" placeholder="Search the docs" aria-label="Search">
<div id="results"></div>{''.join(nav)}</nav><main>{head_title}{desc}{body}</main>
<script>const ROOT_PREFIX="{root}";</script><script src="{root}search.js"></script></body></html>"""
        dest = OUT/pg['url']; dest.parent.mkdir(parents=True, exist_ok=True); dest.write_text(doc)
    print(f"wrote {len(pages)} pages to {OUT}")
    return pages

if __name__ == '__main__': build()
