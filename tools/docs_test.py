"""Open every page of the built site (`_docs/`) in headless Chromium and check it: `python tools/docs_test.py [page.html ...]`.

Serves `_docs/` on 127.0.0.1 and, for each page: no console or page errors, every image loaded, every internal link
points to a page or an anchor that exists (no id used twice), no stored output longer than 200 lines, no code block or
text output wider than its column (1300 px window: a longer line wraps, it never scrolls sideways), DataFrame outputs
styled as the site's tables, a parameter table for each documented name (tools/docments_check.py: a parameter or the
return described), each row of it described, no return description standing for a parameter, and no parameter name or
type broken inside a word; the experiment, stability and LeNet pages show figures; a page with math renders it (MathML
laid out by the browser). The sidebar shows the groups of tools/docs.py's GROUPS in that order, each page under its NAV
group; the README's "Which call do I need" table links to pages the sidebar shows outside Internals. Search finds
"rewind" both over HTTP and with the site opened from disk (`file://`). Before the browser, the parameter tables'
sources are checked (tools/docments_check.py). A screenshot of each page goes to `_docs/screenshots/`. Closes with
`N passed, N failed`. Pages named on the command line: only those.
Needs Chromium (Debian's `chromium`, at /usr/bin/chromium or $CHROMIUM) and the `playwright` package (no browser download).
"""
import functools, http.server, importlib, json, os, re, sys, threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT/'_docs'
MAX_LINES = 200
FIGURE_PAGES = {'experiment.html', 'stability.html', 'tutorials/lenet_lottery.html', 'tutorials/stability.html'}
MATH_PAGES = {'tutorials/seed_walkthrough.html'}

def _tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'lottery_{name}', ROOT/'tools'/f'{name}.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def expected_tables(docs, dc) -> dict:
    "{page: number of parameter tables it shows}: one per documented `show_doc` (a parameter or the return described)"
    from collections import Counter
    n = Counter()
    for nb,expr,obj in dc.documented(docs):
        rel = Path(nb).relative_to('nbs')
        url = 'index.html' if rel.name == 'index.ipynb' else docs.page_name(rel).replace('.md', '.html')
        n[url] += 0 if isinstance(obj, Exception) else int(dc.has_docment(obj))
    return n

def readme_pages() -> list:
    "Pages the README's 'Which call do I need' table links to"
    txt = (ROOT/'README.md').read_text()
    m = re.search(r'## Which call do I need\n(.*?)(?:\n## |\Z)', txt, re.S)
    return re.findall(r'\]\(https://lottery-fastai\.github\.io/lottery_fastai/([\w/.-]+\.html)\)', m.group(1)) if m else []

# every parameter table on the page: rows without a description, a Returns description while the last parameter has
# none (the comment of the last parameter read as the return's), a name or type broken inside a word
PARAM_TABLES = """() => [...document.querySelectorAll('article table')].filter(t => t.rows[0] &&
    /^Parameter\\s+Type\\s+Default\\s+Details$/.test(t.rows[0].innerText.trim())).map(t => {
  let head = t; while (head.parentElement && head.parentElement.tagName !== 'ARTICLE') head = head.parentElement;
  while (head && !/^H[1-6]$/.test(head.tagName)) head = head.previousElementSibling;
  const rows = [...t.tBodies[0].rows].map(r => ({name: r.cells[0].innerText.trim(), det: r.cells[3].innerText.trim(),
      broken: [...r.querySelectorAll('td:nth-child(-n+3) code')].filter(c => c.getClientRects().length > 1).map(c => c.innerText)}));
  return {name: head ? head.id : '?', rows};
})"""

OVERFLOW = """() => [...document.querySelectorAll('article pre, article pre > code, article div.output')].filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => e.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b, '').slice(0, 60))"""

WRAPPED = """() => { const ls = [...document.querySelectorAll('article pre > code > span[id^="__span-"]')];
  return ls.filter(l => l.getClientRects().length && l.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(l).lineHeight)).length; }"""

FRAMES = """() => [...document.querySelectorAll('article div.output.html table')].filter(t => t.hasAttribute('class') || t.hasAttribute('border') ||
  !t.closest('.md-typeset__table')).length"""

SIDEBAR = """() => [...document.querySelectorAll('.md-nav--primary > .md-nav__list > li.md-nav__item--section')].map(li => ({
  group: li.querySelector(':scope > label, :scope > .md-nav__link').innerText.trim(),
  pages: [...li.querySelectorAll(':scope > nav > ul > li > a.md-nav__link, :scope > nav > ul > li > label + a, :scope > nav > ul > li > .md-nav__container > a')]
      .map(a => new URL(a.href).pathname.split('/').slice(-2).join('/'))}))"""

def table_problems(tables) -> list:
    out = []
    for t in tables:
        params = [r for r in t['rows'] if r['name'] != 'Returns']
        ret = next((r for r in t['rows'] if r['name'] == 'Returns'), None)
        if params and ret and ret['det'] and not params[-1]['det']:
            out.append(f"{t['name']}: Returns {ret['det'][:40]!r} documents `{params[-1]['name']}`, shown with no description")
        out += [f"{t['name']}: parameter `{r['name']}` has no description" for r in params if not r['det']]
        out += [f"{t['name']}: `{c}` broken inside a word" for r in t['rows'] for c in r['broken']]
    return out

def api_pages() -> set:
    "Pages of the library modules that export public names: each must show a parameter table"
    out = set()
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        src = json.loads(nb.read_text())['cells'][0]['source']
        m = re.search(r'#\|\s*default_exp\s+(\w+)', ''.join(src))
        if not m or m.group(1) == 'all': continue
        if getattr(importlib.import_module(f'lottery_fastai.{m.group(1)}'), '__all__', []):
            stem = re.sub(r'^\d+[a-z]?_', '', nb.stem)
            out.add({'search': 'a-search'}.get(stem, stem) + '.html')   # tools/docs.py renames the page mkdocs keeps for itself
    return out

def stored_output_problems() -> list:
    "Stored outputs of the notebooks longer than MAX_LINES lines, or holding progress-bar redraws"
    out = []
    for nb in sorted((ROOT/'nbs').rglob('*.ipynb')):
        for i,c in enumerate(json.loads(nb.read_text())['cells']):
            for o in c.get('outputs', []):
                txt = ''.join(o.get('text', '')) if o.get('output_type') == 'stream' else ''.join(o.get('data', {}).get('text/plain', ''))
                if txt.count('\n') >= MAX_LINES: out.append(f'{nb.relative_to(ROOT)} cell {i}: {txt.count(chr(10))+1} lines')
                if '\r' in txt or re.search(r'\| *[\d.]+% \[\d+/\d+', txt): out.append(f'{nb.relative_to(ROOT)} cell {i}: a progress bar')
    return out

def chromium_path():
    for p in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', '/usr/bin/chromium-browser'):
        if p and Path(p).exists(): return p

def serve():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'

def search_hits(page, url, word='rewind') -> int:
    page.goto(url, wait_until='load')
    page.click('input.md-search__input')
    page.keyboard.type(word, delay=20)
    try: page.wait_for_selector('.md-search-result__item', timeout=8000)
    except Exception: return 0
    return page.locator('.md-search-result__item').count()

def main():
    from playwright.sync_api import sync_playwright
    sys.path.insert(0, str(ROOT))
    exe = chromium_path()
    if exe is None: sys.exit('Chromium not found (apt-get install chromium, or set $CHROMIUM)')
    pages = sorted(str(p.relative_to(SITE)) for p in SITE.rglob('*.html') if p.name not in ('404.html', 'search.html'))
    if not pages: sys.exit('no pages in _docs/: run `make docs` first')
    only = [a for a in sys.argv[1:] if a.endswith('.html')]   # `docs_test.py experiment.html ...`: those pages only
    if only: pages = [p for p in pages if p in only]
    api = api_pages()
    missing = [] if only else sorted(api - set(pages))
    docs, dc = _tool('docs'), _tool('docments_check')
    n_tables = expected_tables(docs, dc)
    shots = SITE/'screenshots'; shots.mkdir(exist_ok=True)
    srv, base = serve()
    ok, bad = 0, ([('api pages', [f'missing: {missing}'])] if missing else [])
    if missing: print(f'FAIL API pages missing from the site: {missing}')
    stored = stored_output_problems()
    if stored: bad.append(('stored outputs', stored)); print('FAIL stored outputs: ' + '; '.join(stored[:5]))
    else: ok += 1; print('PASS stored outputs: none over 200 lines, no progress bars')
    try: docs.check_nav([Path(k + '.ipynb') for k in docs.NAV] + [Path('98_unplaced.ipynb')]); said = ''
    except SystemExit as e: said = str(e)
    if "'98_unplaced': ('<group>'" in said and 'to NAV in tools/docs.py' in said: ok += 1; print('PASS sidebar table: a notebook not in NAV stops the build, naming the line to add')
    else: bad.append(('sidebar table', [said or 'an unplaced notebook passed'])); print(f'FAIL sidebar table: an unplaced notebook gave {said!r}')
    src = [f'{nb}: {name}: {p}' for nb,name,p in dc.check()]
    if src: bad.append(('parameter-table sources', src)); print(f'FAIL parameter-table sources (tools/docments_check.py): {len(src)} problems:\n  ' + '\n  '.join(src))
    else: ok += 1; print('PASS parameter-table sources: every documented parameter on its own line, no return description standing for a parameter')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=['--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'])
        page = browser.new_page(viewport={'width': 1300, 'height': 900})
        errors = []
        page.on('console', lambda m: errors.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
        page.on('pageerror', lambda e: errors.append(f'page error: {e}'))
        page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url}'))
        wrapped, sidebar = {}, []
        for name in pages:
            errors.clear(); problems = []
            resp = page.goto(base + name, wait_until='load')
            if resp is None or resp.status != 200: problems.append(f'HTTP {resp.status if resp else "no response"}')
            broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            if broken: problems.append(f'{broken} images did not load')
            longest = page.evaluate("Math.max(0, ...[...document.querySelectorAll('pre.output')].map(p => p.textContent.split('\\n').length))")
            if longest > MAX_LINES: problems.append(f'an output of {longest} lines')
            tables = page.evaluate(PARAM_TABLES)
            if len(tables) != n_tables.get(name, 0): problems.append(f'{len(tables)} parameter tables, expected {n_tables.get(name, 0)} (one per documented name)')
            problems += table_problems(tables)
            over = page.evaluate(OVERFLOW)
            if over: problems.append(f'{len(over)} code blocks or outputs wider than the column: ' + '; '.join(map(repr, over[:3])))
            wrapped[name] = page.evaluate(WRAPPED)
            frames = page.evaluate(FRAMES)
            if frames: problems.append(f'{frames} DataFrame outputs not styled as the site\'s tables')
            if not sidebar: sidebar = page.evaluate(SIDEBAR)
            twins = page.evaluate("(() => { const ids = [...document.querySelectorAll('article [id]')].map(e => e.id); return [...new Set(ids.filter((x, i) => ids.indexOf(x) !== i))]; })()")
            if twins: problems.append(f'ids used twice (a link lands on the first): {twins[:5]}')
            shown = page.evaluate("/&#?[0-9A-Za-z]+;/.test(document.querySelector('article').innerText)")
            if shown: problems.append('an HTML entity shown as text')
            if name in FIGURE_PAGES:
                figs = page.evaluate("[...document.querySelectorAll('article img')].filter(i => i.src.startsWith('data:image/png') && i.naturalWidth > 100).length")
                if not figs: problems.append('no figure')
            if name in MATH_PAGES:
                maths = page.evaluate("[...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().width > 0).length")
                raw = page.evaluate("/\\$[A-Za-z_\\\\]/.test(document.querySelector('article').innerText)")
                if not maths: problems.append('no rendered math')
                if raw: problems.append('raw LaTeX on the page')
            for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"):
                u = urlparse(urljoin(base + name, href))
                if u.scheme not in ('http', 'https') or u.netloc != urlparse(base).netloc: continue
                target = SITE/u.path.lstrip('/')
                if target.is_dir(): target = target/'index.html'
                if not target.exists(): problems.append(f'broken link {href}'); continue
                if u.fragment and target.suffix == '.html':
                    ids = set(re.findall(r'id="([^"]+)"', target.read_text()))
                    if u.fragment not in ids: problems.append(f'missing anchor {href}')
            page.screenshot(path=str(shots/(name.replace('/', '__') + '.png')), full_page=False)
            problems += errors
            if problems: bad.append((name, problems)); print(f'FAIL {name}: ' + '; '.join(problems[:5]))
            else: ok += 1; print(f'PASS {name}')
        # the sidebar: the groups in order, each page in its group; the README's table: pages shown outside Internals
        want = [(g, [docs.page_name(Path(k + '.ipynb')).replace('.md', '.html') if k != 'index' else 'index.html' for k,v in docs.NAV.items() if v[0] == g])
                for g in docs.GROUPS]
        want = [(g, us) for g,us in want if us]
        got = [(sb['group'], [u if u.startswith('tutorials/') else u.split('/')[-1] for u in sb['pages']]) for sb in sidebar]
        if got == want and want[-1][0] == 'Internals': ok += 1; print(f"PASS sidebar: {' > '.join(g for g,_ in got)}, each page in its group")
        else:
            diff = [f'{g}: {us}' for g,us in got if (g, us) not in want] or [f'groups {[g for g,_ in got]}']
            bad.append(('sidebar', diff)); print(f"FAIL sidebar: expected {[g for g,_ in want]}; differs: " + '; '.join(diff[:4]))
        placed = {u: g for g,us in got for u in us}
        rp = readme_pages()
        off = [f'{u} ({placed.get(u, "not in the sidebar")})' for u in rp if placed.get(u) in (None, 'Internals') or not (SITE/u).exists()]
        if rp and not off: ok += 1; print(f"PASS README's 'Which call do I need': {len(rp)} links, each to a page in {sorted({placed[u] for u in rp})}")
        else: bad.append(('README table', off or ['no links found'])); print(f"FAIL README's 'Which call do I need': {off or 'no links found'}")
        print(f"code lines wrapped to fit the column: {sum(wrapped.values())} (" + ', '.join(f'{k} {v}' for k,v in sorted(wrapped.items(), key=lambda kv: -kv[1]) if v)[:400] + ')')
        # search, over HTTP and from disk
        for how,url in (('http', base + 'index.html'), ('file://', (SITE/'index.html').as_uri())):
            errors.clear()
            n = search_hits(page, url)
            if n >= 2 and not errors: ok += 1; print(f'PASS search ({how}): {n} results for "rewind"')
            else: bad.append((f'search {how}', [f'{n} results'] + errors)); print(f'FAIL search ({how}): {n} results {errors[:2]}')
        browser.close()
    srv.shutdown()
    print(f'{ok} passed, {len(bad)} failed')
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
