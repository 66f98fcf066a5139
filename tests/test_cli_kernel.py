"""``numalab kernel``: the rule variants of a release, against the windows of the reference text."""
import json

import pytest

from numalab.cli import main


def variants(capsys, version):
    assert main(["kernel", version, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    return doc["kernel"], {r["variant"]: r["active"] for r in doc["variants"]}


@pytest.mark.parametrize("version,load", [("4.10", "assign"), ("5.15", "assign"), ("5.16", "accumulate"),
                                          ("5.18", "accumulate"), ("5.19", "increment"), ("6.18", "increment")])
def test_node_load_variant_per_window(capsys, version, load):
    """kernel-semantics.md 1.5: assignment to v5.15, accumulation v5.16-v5.18, +1 from v5.19."""
    label, v = variants(capsys, version)
    assert label == version
    assert [m for m in ("assign", "accumulate", "increment") if v[f"node_load_{m}"]] == [load]


def test_modes_and_rebinding_windows(capsys):
    _, v410 = variants(capsys, "4.10")
    _, v61 = variants(capsys, "6.1.192")
    assert v410["rebind_two_step"] and not v61["rebind_two_step"]
    assert not v410["mode_preferred_many"] and v61["mode_preferred_many"]
    assert not v61["mode_weighted_interleave"]            # the 6.1 recordings: mode 6 is EINVAL


def test_text_form_and_bad_version(capsys):
    assert main(["kernel", "6.12"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kernel 6.12: ") and "skip_memoryless_local" in out
    assert main(["kernel", "4.25"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "4.25" in err[0] and "4.x series ended at 4.20" in err[0]


def test_corrected_windows_are_shown(capsys):
    """issue 9: 6.7 skips a memoryless local node, 5.2 has the rebind fix, all arrives in 5.14."""
    _, v = variants(capsys, "6.7")
    assert v["skip_memoryless_local"]
    _, v = variants(capsys, "5.1")
    assert v["rebind_stores_result"]
    _, v = variants(capsys, "5.2")
    assert not v["rebind_stores_result"]
    _, v = variants(capsys, "5.13")
    assert v["parselist_n"] and not v["parselist_all"]
    _, v = variants(capsys, "5.14")
    assert v["parselist_all"] and not v["numa_balancing_mbind_checked"]


def test_not_modelled_changes_are_listed_with_reasons(capsys):
    assert main(["kernel", "6.18", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["not_modelled"]
    assert rows and all(r["reason"] and r["function"] and r["since"].startswith("v") for r in rows)
    text = " ".join(r["change"] for r in rows)
    assert "mems_allowed_seq" in text and "zonelist_update_seq" in text and "hugetlb" in text
    assert all(r["in_release"] for r in rows)
    assert main(["kernel", "5.10", "--json"]) == 0
    assert not any(r["in_release"] for r in json.loads(capsys.readouterr().out)["not_modelled"])
    assert main(["kernel", "6.18"]) == 0
    out = capsys.readouterr().out
    assert "not modelled" in out and out.count("not modelled:") == len(rows)
