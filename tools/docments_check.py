"""Check the parameter tables the docs show: `python tools/docments_check.py` (run by `make test` and by the docs test).

For every name the site documents (each `show_doc` nbdev adds after an exported cell, and each written in a notebook),
fastcore's `docments` reads the comments of its signature, as the site's parameter tables do (tools/docs.py). It fails
  - when a parameter's comment was read as the return's: the last parameter and `) -> T: # ...` on one line (docments
    reads a comment on the `->` line as the return's description, so the parameter shows blank and "Returns: <its
    description>"). The fix: the last parameter with its comment on a line of its own, then `) -> T:` (with a comment
    there only when it describes what is returned);
  - when a function documents some parameters and leaves others blank (two parameters on one line: docments gives the
    comment to the last of them only), since its table then shows a row with no description.
A function that documents none of its parameters has its docstring and signature only, and no table (as nbdev shows it).
Prints one line per problem, `notebook: name: problem`, and exits 1 when there is any.
"""
import importlib.util, inspect, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def _docs_module():
    spec = importlib.util.spec_from_file_location('lottery_docs', ROOT/'tools'/'docs.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def shown(nb_dir=ROOT/'nbs') -> list:
    "(notebook, expression) of every `show_doc` the site renders: those nbdev adds after exported cells, and the written ones"
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    out = []
    for nb in sorted(p for p in nb_dir.rglob('*.ipynb') if not any(x.startswith(('.', '_')) for x in p.relative_to(nb_dir).parts)):
        proc = NBProcessor(nb, [add_show_docs], rm_directives=False)
        proc.process()
        for c in proc.nb.cells:
            if c.cell_type != 'code': continue
            for m in re.finditer(r'^show_doc\(([\w.]+)\)\s*$', c.source, re.M): out.append((str(nb.relative_to(ROOT)), m.group(1)))
    return out

def _sig_lines(obj):
    "The source lines of `obj`'s signature, or None"
    f = obj.__init__ if inspect.isclass(obj) else obj
    f = inspect.unwrap(f)
    try: src = inspect.getsource(f)
    except (TypeError, OSError): return None
    m = re.search(r'^\s*(?:async\s+)?def\s', src, re.M)
    return src[m.start():].splitlines() if m else None

def problems(obj) -> list:
    "What is wrong with `obj`'s parameter table: a parameter's comment read as the return's, parameters left blank"
    from fastcore.docments import docments
    try: dm = docments(obj, full=True, returns=True, args_kwargs=True)
    except Exception: return []
    params = [k for k in dm if k not in ('return', 'self', 'cls')]
    if not params: return []
    blank = [k for k in params if not dm[k].get('docment')]
    ret = (dm.get('return') or {}).get('docment')
    out = []
    last = params[-1]
    if last in blank and ret:
        lines = _sig_lines(obj) or []
        on_arrow = next((l for l in lines if re.search(r'\)\s*->.*:\s*#', l)), '')
        if re.search(rf'(\*\*|\*|\b){re.escape(last)}\b', on_arrow.split('->')[0]):
            out.append(f"the comment on the `) -> ...: #` line documents parameter `{last}` but docments reads it as the "
                       f"return's ({ret[:60]!r}): put `{last}` and its comment on a line of its own, then `) -> ...:`")
            blank.remove(last)
    if len(blank) < len(params) or ret or out:   # a table is shown: every parameter needs its row's description
        out += [f"parameter `{k}` has no description (a parameter per line, each with its comment)" for k in blank]
    return out

def has_docment(obj) -> bool:
    "Whether the site shows a parameter table for `obj` (tools/docs.py: a parameter or the return documented)"
    from fastcore.docments import docments
    try: dm = docments(obj, full=True, returns=True, args_kwargs=True)
    except Exception: return False
    return any(v.get('docment') for k,v in dm.items() if k not in ('self', 'cls'))

def documented(docs=None) -> list:
    "(notebook, expression, object) of every `show_doc` the site renders, as tools/docs.py renders them"
    sys.path.insert(0, str(ROOT))
    docs = docs or _docs_module()
    _,ns = docs.symbols()
    out = []
    for nb,expr in shown():
        name = expr.split('.')[-1]
        if name.startswith('__') or name in docs.EVENTS: continue
        try: obj = eval(expr, ns)
        except Exception as e: obj = e
        out.append((nb, expr, obj))
    return out

def check(verbose=True) -> list:
    "[(notebook, name, problem)] over every documented name"
    res, seen = [], set()
    for nb,expr,obj in documented():
        if expr in seen: continue
        seen.add(expr)
        if isinstance(obj, Exception): res.append((nb, expr, f'cannot be evaluated for its docs: {obj}')); continue
        res += [(nb, expr, p) for p in problems(obj)]
    return res

if __name__ == '__main__':
    import warnings; warnings.filterwarnings('ignore')
    res = check()
    for nb,name,p in res: print(f'{nb}: {name}: {p}')
    print(f'{len(res)} parameter-table problems' if res else 'parameter tables: every documented parameter on its own row, no return description documenting a parameter')
    sys.exit(1 if res else 0)
