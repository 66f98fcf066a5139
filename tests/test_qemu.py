"""numalab.qemu: QEMU arguments for a topology, checked by hand and against a real guest's numbering."""
import pathlib

from numalab import qemu, sources

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
