"""numalab.gfp: the kernel's GFP_ZONE_TABLE and gfp_zonelist(), against hand-read gfp.h values."""
import pytest

from numalab import gfp as gfpmod
from numalab.errors import NumalabError
from numalab.topology import Topology

ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")


@pytest.mark.parametrize("gfp,zone,which", [
    ("GFP_KERNEL", "Normal", "FALLBACK"), ("GFP_USER", "Normal", "FALLBACK"),
    ("GFP_ATOMIC", "Normal", "FALLBACK"), ("GFP_HIGHUSER", "Normal", "FALLBACK"),
    ("GFP_HIGHUSER_MOVABLE", "Movable", "FALLBACK"), ("GFP_DMA32", "DMA32", "FALLBACK"),
    ("GFP_DMA", "DMA", "FALLBACK"), ("GFP_KERNEL|__GFP_THISNODE", "Normal", "NOFALLBACK"),
    ("gfp_highuser_movable | __gfp_thisnode", "Movable", "NOFALLBACK"),
    ("__GFP_MOVABLE", "Normal", "FALLBACK"), ("__GFP_MOVABLE|__GFP_DMA32", "DMA32", "FALLBACK"),
    (0x0A, "Movable", "FALLBACK"), (0xCC0, "Normal", "FALLBACK"),
])
def test_gfp_zone_table(gfp, zone, which):
    assert gfpmod.gfp_zone(gfp) == ZONES.index(zone)       # x86_64 zone types
    assert gfpmod.zonelist_for(gfp) == which


def test_gfp_errors_and_missing_zone_types():
    for bad in ("GFP_DMA|GFP_DMA32", "__GFP_DMA|__GFP_HIGHMEM", "GFP_BOGUS"):
        with pytest.raises(NumalabError):
            gfpmod.gfp_zone(bad)
    t = Topology(name="nodma", node_ids=[0], distance=[[10]], cpu_ids=[0], cpu_node=[0],
                 zone_types=("Normal", "Movable"), present_pages=[[5, 0]], managed_pages=[[5, 0]])
    assert gfpmod.gfp_zone("GFP_DMA32", t) == 0  # OPT_ZONE_DMA32 is ZONE_NORMAL without the zone
