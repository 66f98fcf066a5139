"""Widget panels at 64 and 256 nodes: engine time per update and redraw time in JupyterLab.

For every module of ``numalab.widgets`` with ``demo(nodes)`` (the panel protocol, see
``numalab/widgets/__init__.py``), at 64 and 256 nodes:

* engine: each control of the panel is changed once in this process (the same choice of new value
  as the browser test: next option, first placeholder example, +1); the row gives the slowest
  update (summary line + tables and charts + their mime bundles, i.e. the whole callback), and the
  note the slowest ``summary(state)`` alone and whether an update ran past the 200 ms after which
  the panel shows its busy indicator;
* browser: the same panels in a notebook run in JupyterLab, driven by Playwright in Debian's
  chromium (tests/lab_driver.py); the row gives the slowest change -> drawn time. Skipped with
  ``--quick`` and where chromium or playwright is missing (the note says so).

There is no scalar reference for a panel: ``reference_s`` is None and the ratio column is "-".
"""
import importlib
import json
import pathlib
import pkgutil
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

SIZES = (64, 256)


def _modules():
    import numalab.widgets as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"numalab.widgets.{m.name}")
        if callable(getattr(mod, "demo", None)):
            yield m.name, mod


def _controls(widget):
    import ipywidgets as w

    if isinstance(widget, w.Box):
        return [c for child in widget.children for c in _controls(child)]
    return [widget] if isinstance(widget, w.ValueWidget) and getattr(widget, "description", "") else []


def _next_value(c):
    """Another valid value of a control, chosen as tests/lab_driver.new_value does."""
    import ipywidgets as w

    if isinstance(c, w.SelectMultiple):
        opts = list(c.options)
        return (opts[0],) if tuple(c.value) != (opts[0],) else (opts[1],)
    if isinstance(c, (w.Dropdown, w.ToggleButtons, w.RadioButtons, w.Select)):
        values = [o[1] if isinstance(o, tuple) else o for o in c.options]
        return values[(values.index(c.value) + 1) % len(values)] if len(values) > 1 else None
    if isinstance(c, w.Checkbox):
        return not c.value
    if isinstance(c, (w.IntText, w.BoundedIntText, w.IntSlider)):
        hi = getattr(c, "max", None)
        return c.value + 1 if hi is None or c.value + 1 <= hi else c.value - 1
    if isinstance(c, w.Text):
        ph = c.placeholder or ""
        if ph.startswith("e.g. "):
            for x in ph[5:].split(" or "):
                if x.strip() and x.strip() != c.value:
                    return x.strip()
        return c.value + "0"
    return None


def engine_times(mod, nodes):
    """(slowest update s, median update s, slowest summary s, busy shown, n controls, {control: s}), changing
    each control once to a value it has not had (the first click a presenter makes: caches of
    earlier states do not help)."""
    from numalab.widgets import _panel

    box = mod.demo(nodes)
    busy = box.children[-2]
    shown = []
    busy.observe(lambda ch: shown.append(ch["new"]), "value")
    updates, worst_summary, per = [], 0.0, {}
    controls = _controls(box)
    for c in controls:
        v = _next_value(c)
        if v is None:
            continue
        t = time.perf_counter()
        c.value = v                                   # the observer renders synchronously
        updates.append(time.perf_counter() - t)
        per[c.description] = updates[-1]
        state = json.loads(_panel.text_of(box)[0].split("] ", 1)[1])
        _panel.clear_caches()                         # the summary alone, as on a first visit
        t = time.perf_counter()
        mod.summary(state)
        worst_summary = max(worst_summary, time.perf_counter() - t)
    return max(updates), statistics.median(updates), worst_summary, _panel.BUSY_HTML in shown, len(controls), per


def browser_times(names):
    """{(name, nodes): (slowest change -> drawn s, busy seen, {control: s})} from JupyterLab, or a
    reason str."""
    import lab_driver as ld

    reason = ld.missing_reason()
    if reason:
        return reason
    import nbformat

    root = pathlib.Path(tempfile.mkdtemp(prefix="numalab-bench-widgets-"))
    out = {}
    with ld.Lab(root) as lab, ld.browser_page(lab.url) as (page, _blocked, _errors):
        for nodes in SIZES:
            cells = [nbformat.v4.new_code_cell(f"import numalab.widgets.{n} as m\nm.demo({nodes})") for n in names]
            nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
                "name": "python3", "display_name": "Python 3", "language": "python"}})
            nbformat.write(nb, str(root / f"panels-{nodes}.ipynb"))
            ld.open_notebook(page, lab, f"panels-{nodes}.ipynb")
            ld.run_all(page)
            rows, _ = ld.drive_panels(page)
            for r in rows:
                if r.get("seconds") is None:
                    continue
                key = (r["name"], nodes)
                s, b, per = out.get(key, (0.0, False, {}))
                per[r["control"]] = max(per.get(r["control"], 0.0), r["seconds"])
                out[key] = (max(s, r["seconds"]), b or bool(r.get("busy")), per)
            ld.close_notebook(page)
    return out


def rows(quick: bool):
    mods = list(_modules())
    result = []
    for name, mod in mods:
        for nodes in SIZES:
            upd, med, summ, busy, n, per = engine_times(mod, nodes)
            result.append({"operation": f"panel {name}: slowest update of {n} controls (engine)",
                           "size": f"{nodes} nodes", "engine_s": upd, "reference_s": None,
                           "target": "< 100 ms" if nodes == 64 else "",
                           "note": f"median {med * 1e3:.0f} ms; summary line alone <= {summ * 1e3:.1f} ms; "
                                   f"busy indicator {'shown' if busy else 'not needed'}; ms per control: "
                                   + ", ".join(f"{c} {t * 1e3:.0f}" for c, t in per.items())})
    if quick:
        result.append({"operation": "panels: change -> drawn in JupyterLab", "size": "-", "engine_s": None,
                       "reference_s": None, "note": "skipped with --quick"})
        return result
    try:
        browser = browser_times([n for n, _ in mods])
    except Exception as e:                              # noqa: BLE001 - a benchmark row says what failed
        browser = f"failed: {type(e).__name__}: {e}"
    if isinstance(browser, str):
        result.append({"operation": "panels: change -> drawn in JupyterLab", "size": "-", "engine_s": None,
                       "reference_s": None, "note": browser})
        return result
    for name, _ in mods:
        for nodes in SIZES:
            s, busy, per = browser.get((name, nodes), (None, False, {}))
            each = ", ".join(f"{c} {t * 1e3:.0f}" for c, t in per.items())
            result.append({"operation": f"panel {name}: slowest change -> drawn (JupyterLab, chromium)",
                           "size": f"{nodes} nodes", "engine_s": s, "reference_s": None, "target": "< 1 s",
                           "note": ("busy indicator seen; " if busy else "") + (f"ms per control: {each}" if each else "")})
    return result


if __name__ == "__main__":
    for r in rows("--quick" in sys.argv):
        print(r)
