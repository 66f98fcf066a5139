"""numalab.kernel: release parsing and the version windows of every rule variant."""
import pytest

from numalab import kernel as k
from numalab.errors import NumalabError


@pytest.mark.parametrize("text,version", [("6.1", (6, 1)), ("v5.4", (5, 4)), ("6.1.192", (6, 1)),
                                          ("6.12.0-31-amd64", (6, 12)), ("current", k.NEWEST),
                                          ((5, 15), (5, 15)), ("4.10", (4, 10))])
def test_parse(text, version):
    assert k.profile(text).version == version


@pytest.mark.parametrize("bad", ["3.10", "7.0", "6.19", "4.21", "5.20", "banana", "", "6"])
def test_unknown_versions_list_the_supported_ones(bad):
    with pytest.raises(NumalabError) as e:
        k.profile(bad)
    assert "supported" in str(e.value) and "6.18" in str(e.value)


def test_named_versions_parse_and_profiles_are_cached():
    for v in k.NAMED_VERSIONS:
        assert k.profile(v) is k.profile(v)
    assert k.profile(k.profile("6.1")) is k.profile("6.1")
    with pytest.raises(AttributeError):
        k.profile("6.1").no_such_variant


# Windows from kernel-semantics.md section 1 and the commits cited in VARIANTS.
@pytest.mark.parametrize("v,load,scale_online", [
    ("4.10", "assign", True), ("4.13", "assign", True), ("5.15", "assign", True),
    ("5.16", "accumulate", True), ("5.18", "accumulate", True),
    ("5.19", "increment", False), ("6.1", "increment", False), ("6.18", "increment", False)])
def test_node_load_windows(v, load, scale_online):
    p = k.profile(v)
    assert p.node_load == load
    assert p.load_scale_online == scale_online


@pytest.mark.parametrize("v,qual,possible", [("4.10", "managed", False), ("5.17", "managed", False),
                                             ("5.18", "populated", True), ("6.1", "populated", True)])
def test_zone_qualifier_and_build_set(v, qual, possible):
    p = k.profile(v)
    assert p.zone_qualifier == qual
    assert p.build_possible_nodes == possible


@pytest.mark.parametrize("v,skip", [("6.1", False), ("6.6", False), ("6.7", True), ("6.8", True),
                                    ("6.12", True), ("6.18", True)])
def test_skip_memoryless_local(v, skip):
    # 'mm: page_alloc: skip memoryless nodes entirely' is in the MM pull for v6.7-rc1;
    # recordings: Debian 6.1 lists a memoryless CPU node first in its own order, 6.12 does not
    assert k.profile(v).skip_memoryless_local == skip


@pytest.mark.parametrize("v,zone_order,prints", [("4.10", True, False), ("4.13", True, False),
                                                 ("4.14", False, False), ("5.15", False, False),
                                                 ("5.16", False, True), ("6.1", False, True)])
def test_zone_order_and_print_windows(v, zone_order, prints):
    p = k.profile(v)
    assert p.zone_order_mode == zone_order
    assert p.print_fallback_order == prints


def test_exactly_one_node_load_variant_in_every_release():
    for major, last in ((4, 20), (5, 19), (6, 18)):
        for minor in range(0, last + 1):
            if (major, minor) < k.OLDEST:
                continue
            p = k.profile((major, minor))
            modes = [m for m in ("assign", "accumulate", "increment") if getattr(p, "node_load_" + m)]
            assert len(modes) == 1, (major, minor)
            assert p.zones_managed != p.zones_populated


def test_every_variant_names_window_and_function():
    for row in k.profile("6.1").describe():
        assert row["window"].startswith("v") and row["function"] and row["description"]
    names = [v.name for v in k.VARIANTS]
    assert len(names) == len(set(names))
