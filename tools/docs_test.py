"""Open every page of the built site (`_docs/`) in headless Chromium and check it: `python tools/docs_test.py`.

Serves `_docs/` on 127.0.0.1 and, for each page: no console or page errors, every image loaded, every internal link
points to a page or an anchor that exists, no stored output longer than 200 lines, and on the API pages a parameter
table for the documented names; the experiment, stability and LeNet pages show figures; a page with math renders it
(MathML laid out by the browser). Search finds "rewind" both over HTTP and with the site opened from disk (`file://`).
A screenshot of each page goes to `_docs/screenshots/`. Closes with `N passed, N failed`.
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
    api = api_pages()
    missing = sorted(api - set(pages))
    shots = SITE/'screenshots'; shots.mkdir(exist_ok=True)
    srv, base = serve()
    ok, bad = 0, ([('api pages', [f'missing: {missing}'])] if missing else [])
    if missing: print(f'FAIL API pages missing from the site: {missing}')
    stored = stored_output_problems()
    if stored: bad.append(('stored outputs', stored)); print('FAIL stored outputs: ' + '; '.join(stored[:5]))
    else: ok += 1; print('PASS stored outputs: none over 200 lines, no progress bars')
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=['--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'])
        page = browser.new_page(viewport={'width': 1280, 'height': 900})
        errors = []
        page.on('console', lambda m: errors.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
        page.on('pageerror', lambda e: errors.append(f'page error: {e}'))
        page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url}'))
        for name in pages:
            errors.clear(); problems = []
            resp = page.goto(base + name, wait_until='load')
            if resp is None or resp.status != 200: problems.append(f'HTTP {resp.status if resp else "no response"}')
            broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            if broken: problems.append(f'{broken} images did not load')
            longest = page.evaluate("Math.max(0, ...[...document.querySelectorAll('pre.output')].map(p => p.textContent.split('\\n').length))")
            if longest > MAX_LINES: problems.append(f'an output of {longest} lines')
            if name in api:
                tables = page.evaluate("[...document.querySelectorAll('article table')].filter(t => /Parameter/.test(t.rows[0]?.textContent || '') && /Default/.test(t.rows[0]?.textContent || '')).length")
                if not tables: problems.append('no parameter table')
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
