"""Open every page of the built site (`_docs/`) in headless Chromium and check it: `python tools/docs_test.py`.

Serves `_docs/` on 127.0.0.1, then for each page: no console errors and no page errors, every image loaded, API pages
show signatures, every internal link points to a page or anchor that exists, the search box finds a known word; it saves
a screenshot of each page to `_docs/screenshots/`. Closes with `N passed, N failed` (one per page, plus the search).
Needs Chromium (Debian's `chromium`, at /usr/bin/chromium or $CHROMIUM) and the `playwright` package (no browser download).
"""
import functools, http.server, os, re, sys, threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT/'_docs'
API_PAGES = {'core.html', 'callback.html', 'models.html', 'data.html', 'experiment.html', 'stability.html', 'files.html', 'compact.html'}

def chromium_path():
    for p in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', '/usr/bin/chromium-browser'):
        if p and Path(p).exists(): return p

def serve():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(SITE))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'

def main():
    from playwright.sync_api import sync_playwright
    exe = chromium_path()
    if exe is None: sys.exit('Chromium not found (apt-get install chromium, or set $CHROMIUM)')
    pages = sorted(str(p.relative_to(SITE)) for p in SITE.rglob('*.html'))
    if not pages: sys.exit('no pages in _docs/: run `make docs` first')
    shots = SITE/'screenshots'; shots.mkdir(exist_ok=True)
    srv, base = serve()
    ok, bad = 0, []
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
            if name in API_PAGES:
                sigs = page.evaluate("[...document.querySelectorAll('.output.md h3')].length")
                defs = page.evaluate("[...document.querySelectorAll('.output.md pre, .output.md code')].filter(e => /def |class /.test(e.textContent)).length")
                if not sigs or not defs: problems.append(f'no API signatures (h3: {sigs}, signatures: {defs})')
            for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"):
                u = urlparse(urljoin(base + name, href))
                if u.scheme not in ('http', 'https') or u.netloc != urlparse(base).netloc: continue
                target = SITE/u.path.lstrip('/')
                if not target.exists(): problems.append(f'broken link {href}'); continue
                if u.fragment and target.suffix == '.html':
                    ids = set(re.findall(r'id="([^"]+)"', target.read_text()))
                    if u.fragment not in ids: problems.append(f'missing anchor {href}')
            page.screenshot(path=str(shots/(name.replace('/', '__') + '.png')), full_page=False)
            problems += errors
            if problems: bad.append((name, problems)); print(f'FAIL {name}: ' + '; '.join(problems[:5]))
            else: ok += 1; print(f'PASS {name}')
        # the search box finds pages
        page.goto(base + 'index.html'); page.fill('#search', 'LotteryCallback'); page.wait_for_timeout(500)
        n = page.evaluate("document.querySelectorAll('#results a').length")
        if n >= 2: ok += 1; print(f'PASS search: {n} pages mention LotteryCallback')
        else: bad.append(('search', [f'{n} results'])); print(f'FAIL search: {n} results')
        browser.close()
    srv.shutdown()
    print(f'{ok} passed, {len(bad)} failed')
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
