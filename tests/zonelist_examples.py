"""Test fixtures: small topologies of the reference's worked examples and of the real-kernel
recordings (used by the zonelist tests; not part of the package)."""
import numpy as np

from numalab.topology import Topology


def worked_examples() -> dict:
    """Small topologies from the reference's worked examples and the real-kernel recordings.

    Keys: ``A-flat4`` (10/20, all CPUs), ``B-2x2-subnuma`` (2 sockets x 2 sub-NUMA nodes),
    ``C-cxl4`` (CPU nodes 0-1, CPU-less 2-3), ``D-memoryless`` (3 nodes, node 1 without memory),
    ``E-zones`` (node 0 DMA+DMA32+Normal, node 1 Normal), ``eight-2socket``, ``penalty-tie``.
    Every node has one CPU unless said otherwise; Normal zones hold 1 GiB.
    """
    def topo(name, dist, cpus_on, zones):
        n = len(dist)
        pages = np.zeros((n, 5), np.int64)
        for i, zs in enumerate(zones):
            for z in zs:
                pages[i, ("DMA", "DMA32", "Normal", "Movable", "Device").index(z)] = 4096 if z == "DMA" else 262144
        cpus = [i for i in range(n) if i in cpus_on]
        return Topology(name=name, node_ids=np.arange(n), distance=np.array(dist),
                        cpu_ids=np.arange(len(cpus)), cpu_node=np.array(cpus, np.int64),
                        present_pages=pages, managed_pages=pages, source="tests/zonelist_examples.py")

    flat = lambda n, r: [[10 if i == j else r for j in range(n)] for i in range(n)]  # noqa: E731
    two_groups = [[10 if i == j else (12 if i // 4 == j // 4 else 32) for j in range(8)] for i in range(8)]
    return {
        "A-flat4": topo("A-flat4", flat(4, 20), range(4), [["Normal"]] * 4),
        "B-2x2-subnuma": topo("B-2x2-subnuma", [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11],
                                                 [21, 21, 11, 10]], range(4), [["Normal"]] * 4),
        "C-cxl4": topo("C-cxl4", [[10, 21, 14, 24], [21, 10, 24, 14], [14, 24, 10, 26],
                                   [24, 14, 26, 10]], (0, 1), [["Normal"]] * 4),
        "D-memoryless": topo("D-memoryless", flat(3, 20), range(3), [["Normal"], [], ["Normal"]]),
        "E-zones": topo("E-zones", flat(2, 20), range(2), [["DMA", "DMA32", "Normal"], ["Normal"]]),
        "eight-2socket": topo("eight-2socket", two_groups, range(8), [["Normal"]] * 8),
        "penalty-tie": topo("penalty-tie", flat(4, 20), (0, 1), [["Normal"]] * 4),
    }
