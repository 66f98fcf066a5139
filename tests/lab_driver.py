"""Drive JupyterLab in Debian's chromium through Playwright: start a server, open a notebook, run
all cells, find the widget panels of the page and change each of their controls, timing the
change -> drawn latency. Shared by tests/test_browser_lab.py and benchmarks/bench_widgets.py.

Panels are found through the protocol of :mod:`numalab.widgets` only: an Output whose text
starts with ``[panel NAME] {state}`` followed by the summary line, inside the panel box (CSS
class ``numalab-panel``, else the outermost widget of the cell output). Nothing here knows a
particular panel, so a new panel in a new notebook is driven without editing this file.

No browser is downloaded (``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1``; Playwright launches
``/usr/bin/chromium`` through ``executable_path``). The page may reach only the loopback server:
every other request is aborted and recorded, and the host resolver maps every other name to
nothing.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

PREFIX = "[panel "


def chromium_path():
    """Debian's chromium, or None."""
    for name in ("chromium", "/usr/bin/chromium"):
        path = shutil.which(name)
        if path:
            return path
    return None


def missing_reason():
    """Why the browser tests cannot run here, or None."""
    if chromium_path() is None:
        return "chromium not found (Debian: apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -c constraints.txt -e '.[test]')"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------ the server
class Lab:
    """A JupyterLab server on a loopback port, with a temporary runtime, config, settings and
    workspace directory, serving ``root`` (a temporary copy of the notebooks: JupyterLab's
    autosave must not write to the repository)."""

    def __init__(self, root: pathlib.Path, log=None):
        self.root = pathlib.Path(root)
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="numalab-lab-"))
        self.port = _free_port()
        self.token = os.urandom(16).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = self.home / "server.log"

    def __enter__(self):
        env = dict(os.environ)
        for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                         ("IPYTHONDIR", "ipython")):
            env[var] = str(self.home / sub)
            (self.home / sub).mkdir()
        env["PYTHONHASHSEED"] = "0"
        # every cell in the DOM (no virtual scrolling), no autosave, no news or update checks
        tracker = self.home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        for ext, plugin, value in (("docmanager-extension", "plugin", {"autosave": False}),
                                   ("apputils-extension", "notification", {"fetchNews": "false",
                                                                           "checkForUpdates": False})):
            f = self.home / "settings" / "@jupyterlab" / ext / f"{plugin}.jupyterlab-settings"
            f.parent.mkdir(parents=True)
            f.write_text(json.dumps(value))
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"jupyter lab did not answer in 90 s: {self.log_tail()}")

    def log_tail(self, n=3000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()                  # the server shuts its kernels down
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)


# ------------------------------------------------------------------------ the browser
@contextlib.contextmanager
def browser_page(allowed_prefix: str | None = None, init_script: str | None = None):
    """(page, blocked requests, page errors): a Playwright page in headless Debian chromium that
    may load only ``allowed_prefix`` (and file:, data:, blob: URLs); ``init_script`` runs before
    the page's own scripts."""
    from playwright.sync_api import sync_playwright

    blocked, errors = [], []
    rules = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if allowed_prefix else "MAP * ~NOTFOUND"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run",
                                    "--disable-default-apps", "--disable-extensions",
                                    f"--host-resolver-rules={rules}"])
        try:
            ctx = b.new_context(viewport={"width": 1400, "height": 1000})

            def route(r):
                url = r.request.url
                if url.startswith(("file:", "data:", "blob:")) or (allowed_prefix and url.startswith(allowed_prefix)):
                    return r.continue_()
                blocked.append(url)
                return r.abort()

            ctx.route("**/*", route)
            if init_script:
                ctx.add_init_script(init_script)
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            yield page, blocked, errors
        finally:
            b.close()


# JavaScript helpers installed in the page (window.__nl)
JS_HELPERS = r"""
() => {
  if (window.__nl) return;
  const PREFIX = "[panel ";
  const headOf = (out) => {
    for (const pre of out.querySelectorAll("pre")) {
      const t = pre.textContent;
      const i = t.indexOf(PREFIX);
      if (i >= 0) return t.slice(i).split("\n").slice(0, 2).join("\n");
    }
    return null;
  };
  const panels = () => {
    const found = [];
    const outs = [...document.querySelectorAll(".jupyter-widgets-output-area, .widget-output")]
      .filter(o => !o.parentElement.closest(".jupyter-widgets-output-area, .widget-output"));
    for (const out of outs) {
      if (headOf(out) === null) continue;
      let root = out.closest(".numalab-panel");
      if (!root) {                     // outermost widget of this cell output
        let el = out;
        while (el.parentElement && !el.parentElement.classList.contains("jp-OutputArea-output")) el = el.parentElement;
        root = el;
      }
      if (!found.some(f => f.root === root)) found.push({root, out});
    }
    return found;
  };
  const SEL = ".widget-dropdown, .widget-text, .widget-textarea, .widget-checkbox, .widget-toggle-buttons," +
              ".widget-select-multiple, .widget-select, .widget-radio, .widget-slider, .widget-colorpicker," +
              ".widget-datepicker, .widget-combobox";
  const controls = (root, out) => [...root.querySelectorAll(SEL)].filter(c => !out.contains(c) &&
      !c.parentElement.closest(SEL));
  const kindOf = (c) => {
    const cl = c.classList;
    if (cl.contains("widget-select-multiple")) return "multi";
    if (cl.contains("widget-dropdown") || cl.contains("widget-select")) return "select";
    if (cl.contains("widget-toggle-buttons")) return "toggle";
    if (cl.contains("widget-checkbox")) return "checkbox";
    if (cl.contains("widget-radio")) return "radio";
    if (cl.contains("widget-slider")) return "slider";
    if (c.querySelector("input[type=number]")) return "number";
    if (cl.contains("widget-text") || cl.contains("widget-textarea") || cl.contains("widget-combobox")) return "text";
    return "other:" + c.className;
  };
  const describe = (c) => {
    const label = [...c.querySelectorAll(".widget-label, label")].map(l => l.textContent.replace(/\u200b/g, "").trim())
                  .find(t => t);
    const kind = kindOf(c);
    const d = {kind, description: label || "", value: null, options: [], placeholder: ""};
    const sel = c.querySelector("select");
    if (sel) { d.options = [...sel.options].map(o => o.value + "\u0001" + o.textContent);
               d.value = [...sel.selectedOptions].map(o => o.value); }
    const inp = c.querySelector("input[type=text], input[type=number], textarea");
    if (inp) { d.value = inp.value; d.placeholder = inp.placeholder || "";
               d.min = inp.min; d.max = inp.max; d.step = inp.step; }
    if (kind === "toggle") { const bs = [...c.querySelectorAll("button")];
      d.options = bs.map(b => b.textContent.trim()); d.value = bs.filter(b => b.classList.contains("mod-active")).map(b => b.textContent.trim()); }
    if (kind === "checkbox") d.value = c.querySelector("input").checked;
    if (kind === "radio") { const rs = [...c.querySelectorAll("input[type=radio]")]; d.options = rs.map(r => r.value); d.value = rs.filter(r => r.checked).map(r => r.value); }
    return d;
  };
  const state = {};
  window.__nl = {
    headOf, panels, controls, describe,
    list: () => panels().map(({root, out}, i) => ({i, head: headOf(out),
        controls: controls(root, out).map(describe)})),
    tag: () => panels().forEach(({root, out}, i) => {
        root.setAttribute("data-nl-panel", String(i));
        controls(root, out).forEach((c, j) => c.setAttribute("data-nl-control", i + "-" + j)); }),
    arm: (i) => {
      const {root, out} = panels()[i];
      const st = {t0: null, drawn: null, head: headOf(out), changes: 0, busy: false, out};
      const mark = () => { if (st.t0 === null) st.t0 = performance.now(); };
      for (const ev of ["input", "change", "click", "keydown", "mousedown"]) root.addEventListener(ev, mark, {capture: true});
      st.unmark = () => { for (const ev of ["input", "change", "click", "keydown", "mousedown"]) root.removeEventListener(ev, mark, {capture: true}); };
      st.obs = new MutationObserver(() => {
        if (root.querySelector(".numalab-busy-on")) st.busy = true;
        const h = headOf(out);
        if (h !== null && h !== st.head && h.includes("\n")) {
          st.head = h;
          requestAnimationFrame(() => { st.drawn = performance.now(); st.changes += 1; });
        }
      });
      st.obs.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
      state.cur = st;
    },
    result: () => { const st = state.cur; return {t0: st.t0, drawn: st.drawn, head: st.head, changes: st.changes, busy: st.busy}; },
    disarm: () => { const st = state.cur; if (st) { st.obs.disconnect(); st.unmark(); } state.cur = null; },
    // the charts of panel i: how many, how many drawn (marks), error texts; waits up to ms for them
    panelCharts: async (i, ms) => {
      const {root} = panels()[i], t0 = performance.now();
      const look = () => { const v = [...root.querySelectorAll(".vega-embed")];
        return {views: v.length, drawn: v.filter(x => x.querySelector("svg.marks, canvas.marks")).length,
                errors: [...root.querySelectorAll(".error, .jp-RenderedVegaCommon5 .vega-embed .error")]
                          .map(e => e.textContent.slice(0, 200))
                          .concat(root.textContent.includes("Error loading script") ? ["Error loading script"] : [])}; };
      let r = look();
      while (r.drawn < r.views && performance.now() - t0 < ms) { await new Promise(res => setTimeout(res, 50)); r = look(); }
      return r; },
    // the current notebook's own chart cells (outside panels): Altair's output divs and every
    // Vega view; how many are drawn (marks), error texts; waits up to ms for them
    notebookCharts: async (ms) => {
      const shownText = (root) => {      // text nodes outside <script>/<style> (Altair's snippet
        const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);   // holds the words)
        let t = "", n;
        while ((n = w.nextNode())) if (!n.parentElement.closest("script, style")) t += n.data;
        return t; };
      const nb = window.jupyterapp.shell.currentWidget.node, t0 = performance.now();
      const inPanel = (x) => !!x.closest(".jupyter-widgets-output-area, .widget-output, .jupyter-widgets");
      const look = () => {
        const v = [...new Set([...nb.querySelectorAll('div[id^="altair-viz-"], .vega-embed')])]
                  .filter(x => !inPanel(x) && !x.parentElement.closest('div[id^="altair-viz-"], .vega-embed'));
        return {altair: v.filter(x => /^altair-viz-/.test(x.id)).length, views: v.length,
                drawn: v.filter(x => x.querySelector("svg.marks, canvas.marks")).length,
                errors: [...nb.querySelectorAll(".jp-OutputArea-output .error")].filter(e => !inPanel(e))
                          .map(e => e.textContent.slice(0, 200))
                          .concat(shownText(nb).includes("Error loading script") ? ["Error loading script"] : [])}; };
      let r = look();
      while (r.drawn < r.views && performance.now() - t0 < ms) { await new Promise(res => setTimeout(res, 100)); r = look(); }
      return r; },
    errorOutputs: () => [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent.slice(0, 500)),
  };
}
"""

def close_notebook(page):
    """Shut the current notebook's kernel down and close it without saving."""
    page.evaluate("""async () => { const app = window.jupyterapp, w = app.shell.currentWidget;
        if (!w || !w.sessionContext) return;
        await w.sessionContext.shutdown();
        w.context.model.dirty = false;
        w.dispose(); }""")


KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""


def open_notebook(page, lab: Lab, rel: str, timeout_s=120):
    """Open ``rel`` (relative to the server root) and wait for its kernel."""
    if page.url.startswith(lab.url) and page.evaluate("() => !!window.jupyterapp"):
        # JupyterLab is loaded: open the next notebook in it (no reload of the whole application)
        page.evaluate("""async (path) => { const app = window.jupyterapp;
            await app.commands.execute('docmanager:open', {path}); }""", rel)
    else:
        page.goto(f"{lab.url}/lab/tree/{rel}?token={lab.token}&reset", wait_until="domcontentloaded",
                  timeout=timeout_s * 1000)
    page.wait_for_function("""(name) => { const a = window.jupyterapp; const w = a && a.shell.currentWidget;
        return !!w && !!w.context && w.context.path.endsWith(name) && !!w.sessionContext
               && w.sessionContext.isReady; }""", arg=pathlib.PurePosixPath(rel).name, timeout=timeout_s * 1000)
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_s * 1000)
    page.evaluate(JS_HELPERS)


def run_all(page, timeout_s=180) -> float:
    """Run every cell; return the seconds it took. Raises when a cell is left unexecuted."""
    t = time.perf_counter()
    page.evaluate("""async () => { const w = window.jupyterapp.shell.currentWidget;
        await window.jupyterapp.commands.execute('notebook:run-all-cells'); }""")
    page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
        const cells = [...w.content.widgets].filter(c => c.model.type === 'code');
        const idle = w.sessionContext.session.kernel.status === 'idle';
        // run-all stops at a cell that raises: then the error is the answer, not a timeout
        const failed = cells.some(c => [...c.model.outputs.toJSON()].some(o => o.output_type === 'error'));
        return idle && (failed || cells.every(c => c.model.executionCount !== null
                                                   && !c.model.getMetadata('execution_pending'))); }""",
                           timeout=timeout_s * 1000)
    settle(page)
    return time.perf_counter() - t


def settle(page, quiet_ms=150, timeout_s=30):
    """Wait for an idle kernel and no DOM change for ``quiet_ms`` (widget views are drawn)."""
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_s * 1000)
    page.evaluate("""(quiet) => new Promise(res => { let t = setTimeout(done, quiet);
        const obs = new MutationObserver(() => { clearTimeout(t); t = setTimeout(done, quiet); });
        function done() { obs.disconnect(); res(); }
        obs.observe(document.body, {subtree: true, childList: true, characterData: true}); })""", quiet_ms)


def parse_head(head: str):
    """(name, state, summary line) of a panel's first two output lines."""
    first, _, line = head.partition("\n")
    m = re.match(r"\[panel ([^\]]+)\] (\{.*\})$", first)
    if not m:
        raise AssertionError(f"not a panel state line: {first!r}")
    return m.group(1), json.loads(m.group(2)), line


def new_value(ctl: dict):
    """(action, argument) changing this control to another valid value, or (None, reason)."""
    kind, value = ctl["kind"], ctl["value"]
    if kind == "select":
        opts = [o.split("\u0001")[0] for o in ctl["options"]]
        if len(opts) < 2:
            return None, "one option only"
        cur = opts.index(value[0]) if value and value[0] in opts else -1
        return "select", opts[(cur + 1) % len(opts)]
    if kind == "multi":
        opts = [o.split("\u0001")[0] for o in ctl["options"]]
        if not opts:
            return None, "no options"
        want = [opts[0]] if value != [opts[0]] else ([opts[1]] if len(opts) > 1 else [])
        return "select", want
    if kind == "toggle":
        others = [o for o in ctl["options"] if o not in value]
        return ("click-button", others[0]) if others else (None, "one option only")
    if kind == "radio":
        others = [o for o in ctl["options"] if o not in value]
        return ("click-radio", others[0]) if others else (None, "one option only")
    if kind == "checkbox":
        return "click-checkbox", None
    if kind == "slider":
        return "press", "ArrowRight"
    if kind == "number":
        v = float(value)
        step = float(ctl.get("step") or 1) if (ctl.get("step") or "any") != "any" else 1.0
        hi = float(ctl["max"]) if ctl.get("max") not in (None, "") else None
        nv = v + step if hi is None or v + step <= hi else v - step
        return "fill", str(int(nv)) if nv == int(nv) else str(nv)
    if kind == "text":
        m = re.match(r"\s*e\.g\.\s*(.+)$", ctl.get("placeholder") or "")
        examples = [x.strip() for x in re.split(r"\s+or\s+", m.group(1))] if m else []
        for x in examples:
            if x and x != value:
                return "fill-example", x
        # no example given: a generic edit (the first number of the value, else the value + "0")
        first = re.match(r"\s*(\d+)", value)
        return "fill", first.group(1) if first and first.group(1) != value.strip() else value + "0"
    return None, f"unsupported control kind {kind}"


def apply(page, i: int, j: int, ctl: dict, action: str, arg):
    loc = page.locator(f'[data-nl-panel="{i}"] [data-nl-control="{i}-{j}"]')
    if action == "select":
        loc.locator("select").select_option(arg)
    elif action == "click-button":
        loc.locator("button", has_text=arg).first.click()
    elif action == "click-radio":
        loc.locator(f'input[type=radio][value="{arg}"]').check()
    elif action == "click-checkbox":
        loc.locator("input[type=checkbox]").click()
    elif action == "press":
        loc.locator(".noUi-handle, [role=slider]").first.press(arg)
    elif action in ("fill", "fill-example"):
        box = loc.locator("input, textarea").first
        box.fill(arg)
        box.press("Enter")
    else:
        raise AssertionError(action)


def _change(page, i, j, timeout_s):
    """Change control j of panel i once to another valid value; the row (see drive_panels)."""
    ctl = page.evaluate("([i, j]) => window.__nl.describe(document.querySelector("
                        "`[data-nl-control='${i}-${j}']`))", [i, j])
    before = page.evaluate("(i) => window.__nl.headOf(window.__nl.panels()[i].out)", i)
    row = {"panel": i, "name": parse_head(before)[0], "control": ctl["description"], "kind": ctl["kind"],
           "before": before}
    action, arg = new_value(ctl)
    if action is None:
        row["skipped"] = arg
        return row
    row["to"], row["from_example"] = arg, action == "fill-example"
    page.evaluate("(i) => window.__nl.arm(i)", i)
    try:
        apply(page, i, j, ctl, action, arg)
        page.wait_for_function("() => { const r = window.__nl.result(); return r.drawn !== null; }",
                               timeout=timeout_s * 1000)
        settle(page, quiet_ms=100)
        res = page.evaluate("() => window.__nl.result()")
    except Exception as e:                          # noqa: BLE001 - reported by the caller
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        res = None
    finally:
        page.evaluate("() => window.__nl.disarm()")
    if res is not None:
        row["after"] = page.evaluate("(i) => window.__nl.headOf(window.__nl.panels()[i].out)", i)
        row["seconds"] = (res["drawn"] - res["t0"]) / 1000 if res["t0"] is not None else None
        row["busy"] = res["busy"]
        row["renders"] = res["changes"]
    return row


def drive_panels(page, timeout_s=30, retry_above_s=None):
    """Change every control of every panel once. Returns (rows, panels): one row per change with
    ``panel`` (index on the page), ``name``, ``control``, ``kind``, ``to``, ``before`` and
    ``after`` (state line + summary line), ``seconds`` (change -> new output drawn), ``busy``
    (the busy indicator showed), or ``skipped`` with a reason. A change slower than
    ``retry_above_s`` is followed by a second change of the same control to yet another value
    (a new state: no cache of the first helps), kept under ``retry`` (a machine shared with
    other jobs can stall one change; a slow panel is slow twice)."""
    page.evaluate(JS_HELPERS)
    page.evaluate("() => window.__nl.tag()")
    panels = page.evaluate("() => window.__nl.list()")
    rows = []
    for p in panels:
        for j, _ in enumerate(p["controls"]):
            row = _change(page, p["i"], j, timeout_s)
            if retry_above_s is not None and (row.get("seconds") or 0) > retry_above_s:
                row["retry"] = _change(page, p["i"], j, timeout_s)
            rows.append(row)
    return rows, panels


# ------------------------------------------------------------------------ reports, clicked
# Keeps the Vega view of every vegaEmbed() call (the report's bundle assigns window.vegaEmbed),
# so the test can tell "the data shown changed but the marks did not" from "same data".
CAPTURE_VIEWS_JS = r"""
(() => { let real; const views = window.__vegaViews = [];
  Object.defineProperty(window, "vegaEmbed", {configurable: true, get() { return real; },
    set(v) { real = typeof v !== "function" ? v : Object.assign((el, spec, opt) => v(el, spec, opt).then(r => {
      views.push({el: typeof el === "string" ? document.querySelector(el) : el, view: r.view}); return r; }), v); } });
})();
"""

CLICK_JS = r"""
async ([maxValues, waitMs]) => {
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  const sig = (view) => { const svg = view.querySelector("svg.marks");
    if (svg) return svg.innerHTML;
    const c = view.querySelector("canvas.marks"); return c ? c.toDataURL() : ""; };
  const until = async (pred, ms) => { const t0 = performance.now();
    while (performance.now() - t0 < ms) { if (pred()) return true; await sleep(25); } return pred(); };
  const views = [...document.querySelectorAll(".vega-embed")];
  const dataSig = (el) => { const x = (window.__vegaViews || []).find(v => v.el === el);
    if (!x) return null;
    try { return JSON.stringify(x.view.getState({signals: () => false, data: () => true, recurse: true}).data); }
    catch (e) { return "getState failed: " + e; } };
  await until(() => views.every(v => v.querySelector("svg.marks, canvas.marks")), waitMs);
  const out = {views: views.length, rendered: views.filter(v => v.querySelector("svg.marks, canvas.marks")).length,
               tried: []};
  const spread = (opts, cur) => { const others = opts.filter(o => o !== cur);
    if (others.length <= maxValues) return others;
    const pick = []; for (let k = 0; k < maxValues; k++) pick.push(others[Math.round(k * (others.length - 1) / (maxValues - 1))]);
    return [...new Set(pick)]; };
  const binding = (b) => {
    const name = (b.querySelector(".vega-bind-name") || b).textContent.trim();
    const sel = b.querySelector("select"), range = b.querySelector("input[type=range]"),
          box = b.querySelector("input[type=checkbox]"), radios = [...b.querySelectorAll("input[type=radio]")];
    const fire = (el) => { el.dispatchEvent(new Event("input", {bubbles: true}));
                           el.dispatchEvent(new Event("change", {bubbles: true})); };
    if (sel) return {name, initial: sel.value, values: spread([...sel.options].map(o => o.value), sel.value),
                     set: (v) => { sel.value = v; fire(sel); }};
    if (range) { const lo = +range.min, hi = +range.max, st = +(range.step || 1);
      const all = []; for (let x = lo; x <= hi + 1e-9 && all.length < 1000; x += st) all.push(String(+x.toFixed(6)));
      return {name, initial: range.value, values: spread(all, String(+range.value)),
              set: (v) => { range.value = v; fire(range); }}; }
    if (box) return {name, initial: String(box.checked), values: [String(!box.checked)],
                     set: (v) => { if (String(box.checked) !== v) box.click(); }};
    if (radios.length) { const cur = (radios.find(r => r.checked) || {}).value;
      return {name, initial: cur, values: spread(radios.map(r => r.value), cur),
              set: (v) => radios.find(r => r.value === v).click()}; }
    return {name, unsupported: true};
  };
  // set one value; wait until the marks change or (after 400 ms) the data shown are unchanged
  const setAndWait = async (view, b, v) => {
    const before = sig(view), dataBefore = dataSig(view), t0 = performance.now();
    b.set(v);
    await until(() => sig(view) !== before ||
                      (performance.now() - t0 > 400 && dataBefore !== null && dataSig(view) === dataBefore), waitMs);
    const changed = sig(view) !== before, ms = performance.now() - t0;
    return {changed, ms, sameData: dataBefore !== null && dataSig(view) === dataBefore, hasView: dataBefore !== null};
  };
  for (const [vi, view] of views.entries()) {
    const binds = [...view.querySelectorAll(".vega-bind")].map(binding);
    for (const b of binds) {
      if (b.unsupported) { out.tried.push({view: vi, name: b.name, value: null, changed: false, note: "unsupported binding"}); continue; }
      for (const v of b.values) out.tried.push({view: vi, name: b.name, value: v, ...(await setAndWait(view, b, v))});
      await setAndWait(view, b, b.initial);          // back to the initial view before the next selector
      const mine = out.tried.filter(t => t.view === vi && t.name === b.name);
      if (mine.some(t => t.changed)) continue;
      // no value changed the marks from the initial view: is the selector wired at all? Try its
      // values again with each other selector of the view moved to each of its values.
      let wiredBy = null;
      for (const o of binds) {
        if (o === b || o.unsupported || wiredBy) continue;
        for (const ov of o.values) {
          await setAndWait(view, o, ov);
          for (const v of b.values) { if ((await setAndWait(view, b, v)).changed) { wiredBy = `${o.name}=${ov}`; } }
          await setAndWait(view, b, b.initial);
          if (wiredBy) break;
        }
        await setAndWait(view, o, o.initial);
      }
      mine.forEach(t => { t.wiredWhen = wiredBy; });
    }
  }
  const coll = document.querySelector("#numalab-js-errors");
  out.collector = coll ? coll.textContent.split("\n").filter(l => l.trim()) : [];
  out.errorBoxes = [...document.querySelectorAll("div.error")].map(e => e.textContent.trim().slice(0, 200));
  return out;
}
"""


def click_reports(paths, max_values=3, wait_ms=3000):
    """Open every report file and set every Altair bound selector to a few values; one dict per
    report: views, rendered, tried (view, name, value, changed, ms), collector, errorBoxes,
    page_errors, blocked."""
    results = []
    with browser_page(None, CAPTURE_VIEWS_JS) as (page, blocked, errors):
        for path in paths:
            del blocked[:], errors[:]
            page.goto(pathlib.Path(path).resolve().as_uri(), wait_until="load", timeout=60_000)
            res = page.evaluate(CLICK_JS, [max_values, wait_ms])
            res.update(report=str(path), page_errors=list(errors), blocked=list(blocked))
            results.append(res)
    return results


if __name__ == "__main__":
    # python tests/lab_driver.py click-reports FILE... : run under `unshare --net` by the test
    if sys.argv[1:2] == ["click-reports"]:
        print(json.dumps(click_reports(sys.argv[2:])))
