"""numalab.viz.offline: the vega bundle a live JupyterLab page needs to draw Altair charts offline,
and the rule that every notebook shows it first and never stores it."""
import json
import pathlib
import re

import altair as alt
import nbformat
import pytest

from numalab import report as rep
from numalab.errors import NumalabError
from numalab.viz import offline as vo

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_LOAD = re.compile(r'maybeLoadScript\("(vega|vega-lite|vega-embed)",\s*"([^"]+)"\)')


def _altair_snippet():
    """The HTML Altair's default renderer shows for a chart in a notebook."""
    chart = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")
    bundle = alt.renderers.get()(chart.to_dict())
    return bundle[0]["text/html"] if isinstance(bundle, tuple) else bundle["text/html"]


def test_versions_are_what_altairs_snippet_asks_for():
    asked = {lib.replace("-", "") + "_version": v for lib, v in _LOAD.findall(_altair_snippet())}
    assert len(asked) == 3
    data, meta = vo.offline()._repr_mimebundle_()
    debug = json.loads(re.search(r"window\.VEGA_DEBUG = Object\.assign\(window\.VEGA_DEBUG \|\| \{\}, (\{[^}]*\})\);",
                                 data["text/html"]).group(1))
    # Altair's snippet skips the CDN only when VEGA_DEBUG holds exactly what it asks for
    assert debug == asked


def test_output_is_one_script_marked_live_only():
    data, meta = vo.offline()._repr_mimebundle_()
    assert meta == {"numalab": {"live_only": True}} and vo.is_live_only({"metadata": meta})
    html = data["text/html"]
    assert html.lower().count("<script") == 1 and html.lower().count("</script") == 1
    assert html.rstrip().endswith("</script>")
    assert html.count("window.vegaEmbed=") == 1                      # the bundle, once
    assert "cdn.jsdelivr" not in html and "vega-lite" in data["text/plain"]
    assert not rep.network_references(html)


def test_refuses_versions_the_installed_bundle_lacks():
    with pytest.raises(NumalabError, match="vega-lite 1.0.0 but the installed vl-convert-python"):
        vo.offline({"vega_version": "6", "vegalite_version": "1.0.0", "vegaembed_version": "7"})
    good = vo.altair_versions()
    with pytest.raises(NumalabError, match="charts need vega 0.1 but"):
        vo.offline({**good, "vega_version": "0.1"})


def test_is_live_only_needs_the_exact_mark():
    assert not vo.is_live_only({"metadata": {"numalab": {"live_only": "yes"}}})
    assert not vo.is_live_only({"metadata": {"numalab": True}})
    assert not vo.is_live_only({"output_type": "stream", "text": "live_only"})


def test_report_drops_live_only_outputs_and_counts_no_chart_for_them():
    data, meta = vo.offline()._repr_mimebundle_()
    live = nbformat.v4.new_output("execute_result", data=data, metadata=meta, execution_count=1)
    kept = nbformat.v4.new_output("stream", text="kept\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("offline()", outputs=[live, kept])])
    assert rep.count_charts(nb) == 0              # its VEGA_DEBUG is no Altair chart
    assert [o["output_type"] for o in rep.drop_live_only(nb).cells[0].outputs] == ["stream"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_calls_offline_first_and_stores_no_bundle(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code[0].source.splitlines()
    assert first[0] == "# NBVAL_IGNORE_OUTPUT", f"{path.name}: the offline() cell's output is not compared"
    assert any(re.match(r"\s*(display\()?(vo\.|offline\.)?offline\(\)", line) for line in first), \
        f"{path.name}: the first code cell does not show numalab.viz.offline.offline()"
    text = path.read_text(encoding="utf-8")
    assert "live_only" not in text and "window.vegaEmbed" not in text, \
        f"{path.name} stores the live-only vega bundle: run tools/store_notebook_outputs.py"
