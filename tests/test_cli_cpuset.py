"""``numalab cpuset``: allocations per gfp in a cpuset, the movable-only (v5.16) early failure, the
node_allowed table with the v4.14 OOM-victim test."""
import json

from numalab.cli import main


def doc(capsys, *args):
    assert main(["cpuset", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def outcomes(d):
    return {a["gfp"]: (a["outcome"].split(" (")[0].split(":")[0], a["node"]) for a in d["allocations"]}


def test_movable_only_cpuset_before_and_after_5_16(capsys):
    """cxl-movable: nodes 0-1 have Normal memory and the CPUs, nodes 2-3 only ZONE_MOVABLE.

    A task confined to 2-3: user pages (movable) come from node 2 (node 0's order is 0 2 1 3...);
    GFP_KERNEL has no __GFP_HARDWALL and may use the root's mems in the slow path (node 0);
    GFP_HIGHUSER (HARDWALL, zones <= Normal) finds no zone: from 5.16 it fails at once and the
    write logs the warning (Feng Tang's cpusets_insane_config), before it ends in the OOM killer.
    """
    new = doc(capsys, "cxl-movable", "--mems", "2-3", "--kernel", "5.16")
    old = doc(capsys, "cxl-movable", "--mems", "2-3", "--kernel", "5.15")
    assert new["insane_config"] and not old["insane_config"]
    assert len(new["log"]) == 1 and "movable nodes only" in new["log"][0] and old["log"] == []
    assert outcomes(new)["GFP_HIGHUSER"] == ("fails at once", None)
    assert outcomes(old)["GFP_HIGHUSER"][0].startswith("no zone") and outcomes(old)["GFP_HIGHUSER"][1] is None
    for d in (new, old):
        assert outcomes(d)["GFP_HIGHUSER_MOVABLE"][1] in (2, 3)
        assert outcomes(d)["GFP_KERNEL"] == ("allocated outside mems_allowed", 0)


def test_a_normal_cpuset_allocates_everywhere_it_may(capsys):
    d = doc(capsys, "cxl4", "--mems", "0-1", "--kernel", "6.1")
    assert {g: o for g, (o, _) in outcomes(d).items()} == {g: "allocated" for g in outcomes(d)}
    assert d["cpuset"] == {"path": "/numalab", "mems": "0-1", "effective": "0-1", "mems_allowed": "0-1"}


def test_oom_victim_rows(capsys):
    def other_thread(v):
        d = doc(capsys, "cxl4", "--mems", "1", "--kernel", v)
        return {r["allowed"] for r in d["node_allowed"]
                if r["oom_victim"] and not r["tif_memdie"] and r["gfp_hardwall"] and not r["in_interrupt"]}
    assert other_thread("4.13") == {"1"}
    assert other_thread("4.14") == {"0-3"}


def test_text_and_errors(capsys):
    assert main(["cpuset", "cxl-movable", "--mems", "2-3", "--kernel", "5.16"]) == 0
    out = capsys.readouterr().out
    assert "kernel log: Unsupported (movable nodes only)" in out and "fails at once" in out
    assert main(["cpuset", "cxl4", "--mems", "all", "--kernel", "5.13"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "5.14" in err[0]
    assert main(["cpuset", "cxl4", "--then-mems", "0"]) == 2
    assert "--mems" in capsys.readouterr().err
