"""numalab.qemu: QEMU arguments for a topology, checked by hand and against a real guest's numbering."""
import pathlib

import pytest

from numalab import qemu, sources
from numalab.errors import NumalabError

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "data" / "topologies"


def test_qemu_args_two_node_hand_checked():
    t = sources.from_dict({"nodes": [{"id": 0, "cpus": "0-1", "mem_mib": 512}, {"id": 1, "cpus": "2", "mem_mib": 0}],
                           "distance": [[10, 21], [21, 10]]})
    args, notes = qemu.qemu_args(t)
    assert args == ["-smp", "3", "-m", "512M", "-object", "memory-backend-ram,id=mem0,size=512M",
                    "-numa", "node,nodeid=0,cpus=0-1,memdev=mem0", "-numa", "node,nodeid=1,cpus=2",
                    "-numa", "dist,src=0,dst=1,val=21"]
    args, _ = qemu.qemu_args(t, "256M")
    assert "memory-backend-ram,id=mem0,size=256M" in args and args[3] == "256M"


def test_qemu_args_sparse_ids_and_cpus_are_renumbered():
    t = sources.load(FIX / "numactl-sparse-cpuless.txt")
    args, notes = qemu.qemu_args(t, "128M")
    assert "node,nodeid=2,memdev=mem2" in args
    assert "dist,src=1,dst=2,val=80" in args
    assert any("8->1" in n and "250->2" in n for n in notes)


def test_qemu_args_asymmetric_gives_both_directions():
    t = sources.from_dict({"nodes": [{"id": 0, "cpus": "0", "mem_mib": 64}, {"id": 1, "cpus": "1", "mem_mib": 64}],
                           "distance": [[10, 15], [30, 10]]})
    args, _ = qemu.qemu_args(t)
    assert "dist,src=0,dst=1,val=15" in args and "dist,src=1,dst=0,val=30" in args


def test_qemu_args_predicts_the_guest_node_numbering():
    """A real 6.1 guest booted from cpuless-low-ids renumbered QEMU nodes 0,1,2,3 to Linux 2,3,0,1
    (tests/data/kernel-truth/recorded/cpuless-low-ids): qemu-args must say so."""
    rec = ROOT / "tests" / "data" / "kernel-truth" / "recorded" / "cpuless-low-ids" / "topology.json"
    _, notes = qemu.qemu_args(sources.load(str(rec)), "256M")
    assert any("QEMU node -> Linux node 0->2, 1->3, 2->0, 3->1:" in n for n in notes), notes
    _, notes = qemu.qemu_args(sources.load("cxl4"), "256M")
    assert not any("Linux node" in n for n in notes)


# ------------------------------------------------------------------ memory hot-add, offline node
def _three(offline=()):
    nodes = [{"id": i, "cpus": str(i) if i < 2 else "", "mem_mib": 0 if i in offline else 256} for i in range(4)]
    for i in offline:
        nodes[i]["online"] = False
    return sources.from_dict({"nodes": nodes, "distance": [[10, 21, 20, 20], [21, 10, 21, 20], [20, 21, 10, 30],
                                                             [20, 20, 30, 10]]})


def test_qemu_args_hot_add_is_a_pc_dimm_with_room_for_it():
    args, notes = qemu.qemu_args(_three(), "256M", hot_add=[(2, 256), (1, 128)])
    assert args[:4] == ["-smp", "2", "-m", "1024M,slots=3,maxmem=4480M"]  # 1024 + 3 x 1 GiB slots + 384
    assert args[-8:] == ["-object", "memory-backend-ram,id=hp0,size=256M", "-device", "pc-dimm,id=dimm0,memdev=hp0,node=2",
                         "-object", "memory-backend-ram,id=hp1,size=128M", "-device", "pc-dimm,id=dimm1,memdev=hp1,node=1"]
    assert any("memhp_default_state=online" in n for n in notes)


@pytest.mark.parametrize("hot, problem", [([(2, 100)], "multiple of 128 MiB"), ([(7, 128)], "not an online node"),
                                          ([(0, 0)], "multiple of 128 MiB"), ([(0, 128)] * 9, "at most 8")])
def test_qemu_args_refuses_hot_add_it_cannot_make(hot, problem):
    with pytest.raises(NumalabError, match=problem):
        qemu.qemu_args(_three(), "256M", hot_add=hot)


def test_qemu_args_boots_the_last_offline_node_as_the_hotplug_owner():
    """QEMU gives the hot-pluggable range to its last node; Linux then has that node possible but
    not online (the recorded possible-offline boots)."""
    args, notes = qemu.qemu_args(_three(offline=(3,)), "256M")
    assert args[3] == "768M,slots=1,maxmem=1792M"
    assert "node,nodeid=3" in args and "dist,src=2,dst=3,val=30" in args
    assert not any("memdev=mem3" in a for a in args)
    assert any("possible but offline" in n for n in notes)
    # an offline node in the middle cannot be the last QEMU node: left out, and said so
    args, notes = qemu.qemu_args(_three(offline=(1,)), "256M")
    assert args[3] == "768M" and any("offline nodes 1 left out" in n for n in notes)
