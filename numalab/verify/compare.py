"""Compare what a booted kernel did with what numalab predicts for the same release.

Every comparison yields rows ``{"experiment", "item", "verdict", "kernel", "numalab", "note"}``
with ``verdict`` one of

* ``"agree"``: the kernel's value and numalab's are equal;
* ``"nondeterministic"``: they differ only where the kernel itself is not deterministic, and the
  note says where (an interleave sequence compared up to rotation: its start depends on the
  task's ``il_prev`` and, for VMA policies, on the address ASLR gave the mapping, see
  ``interleave_nid()``/``offset_il_node()`` in mm/mempolicy.c; shared-memory interleave is also
  biased by the inode number since v2.6.x ``shmem_get_policy``);
* ``"differ"``: a real difference, to be fixed in the model or explained.

Experiments: ``machine`` (the guest the kernel built against the topology asked for, after
Linux's own node numbering), ``boot`` (fallback orders, ``Built N zonelists``, policy zone) and
``policy`` (one row per probe record: return code, get_mempolicy, mems_allowed, page nodes).
"""
from __future__ import annotations

import re

import numpy as np

from .. import qemu, sources, zonelist
from ..errors import NumalabError
from ..alloc import run_scenarios, scenario_at
from ..nodemask import format_list, from_nodes
from ..viz.text import boot_log_lines, scenario_document
from ..topology import Topology

__all__ = ["major_minor", "nodestr", "renumbered", "machine_rows", "boot_rows", "policy_rows", "summarize",
           "without_hot_added", "zonelist_builds", "VERDICTS"]

VERDICTS = ("agree", "nondeterministic", "differ")
_FLAG = {"STATIC_NODES": "static", "RELATIVE_NODES": "relative", "NUMA_BALANCING": "numa_balancing"}
_INTERLEAVED = ("INTERLEAVE", "WEIGHTED_INTERLEAVE")
#: probe api -> numalab.alloc scope
_SCOPE = {"set": "task", "mbind": "vma", "mbind_shm": "shm"}


def major_minor(release: str) -> str:
    """The release numalab models from a kernel release string.

    >>> major_minor("6.12.117+deb12-amd64"), major_minor("6.1.0-57-amd64")
    ('6.12', '6.1')
    """
    m = re.match(r"(\d+)\.(\d+)", release or "")
    if not m:
        raise ValueError(f"not a kernel release: {release!r}")
    return f"{int(m.group(1))}.{int(m.group(2))}"


def nodestr(ids) -> str:
    """Kernel list syntax of node ids (``[0, 1, 3]`` -> ``"0-1,3"``).

    >>> nodestr([3, 0, 1]), nodestr([])
    ('0-1,3', '')
    """
    ids = sorted(int(x) for x in ids)
    return format_list(from_nodes(ids, ids[-1] + 1 if ids else 1))


def _row(experiment, item, kernel, model, verdict=None, note=""):
    if verdict is None:
        verdict = "agree" if kernel == model else "differ"
    return {"experiment": experiment, "item": item, "verdict": verdict, "kernel": kernel, "numalab": model,
            "note": note}


def renumbered(t: Topology, pxm_to_node: dict) -> Topology:
    """The topology as the guest should see it: QEMU node ``k`` (the k-th online node, which QEMU
    puts in the SRAT as proximity domain ``k``) becomes Linux node ``pxm_to_node[k]``.

    >>> t = renumbered(sources.load("cxl4"), {0: 2, 1: 3, 2: 0, 3: 1})
    >>> t.has_cpu.tolist(), t.distance[0].tolist()
    ([False, False, True, True], [10, 26, 14, 24])
    """
    doc = sources.to_dict(t)
    if not pxm_to_node:
        return t
    # the online nodes, then the one possible-but-offline node QEMU boots (met last in the SRAT,
    # it keeps the id right after the online nodes)
    off = qemu.bootable_offline_node(t)
    on = np.flatnonzero(t.online).tolist() + ([off] if off is not None else [])
    nodes, order = [], []
    for k, i in enumerate(on):
        nd = dict(doc["nodes"][i])
        nd["id"] = int(pxm_to_node.get(k, k))
        nodes.append(nd)
        order.append(i)
    old_id = {int(doc["nodes"][i]["id"]): int(pxm_to_node.get(k, k)) for k, i in enumerate(on)}
    if "states" in doc:  # node-state overrides follow their nodes (offline nodes are not booted)
        doc["states"] = {key: sources.format_cpulist(sorted(old_id[n] for n in sources.parse_cpulist(v, key)
                                                            if n in old_id))
                         for key, v in doc["states"].items()}
    perm = sorted(range(len(nodes)), key=lambda a: nodes[a]["id"])
    dist = np.asarray(doc["distance"])[np.ix_(order, order)]
    doc["nodes"] = [nodes[a] for a in perm]
    doc["distance"] = dist[np.ix_(perm, perm)].tolist()
    return sources.from_dict(doc, where=f"{t.name} renumbered")


def machine_rows(expected: Topology, guest: Topology) -> list[dict]:
    """The machine Linux built (its sysfs) against the topology asked for (renumbered): online
    nodes, then per node whether it has CPUs and memory and its distance row."""
    rows = []
    e_on = [int(x) for x in expected.node_ids[expected.online]]
    g_on = [int(x) for x in guest.node_ids[guest.online]]
    rows.append(_row("machine", "online nodes", nodestr(g_on), nodestr(e_on)))
    rows.append(_row("machine", "possible nodes", nodestr(guest.node_ids[guest.possible]),
                     nodestr(expected.node_ids[expected.possible])))
    for nid in e_on:
        if nid not in g_on:
            continue
        ei, gi = expected.index_of(nid), guest.index_of(nid)
        rows.append(_row("machine", f"node {nid} has CPUs / memory",
                         [bool(guest.has_cpu[gi]), bool(guest.has_memory[gi])],
                         [bool(expected.has_cpu[ei]), bool(expected.has_memory[ei])]))
        common = [n for n in e_on if n in g_on]
        rows.append(_row("machine", f"node {nid} distances",
                         [int(guest.distance[gi, guest.index_of(n)]) for n in common],
                         [int(expected.distance[ei, expected.index_of(n)]) for n in common]))
    return rows


def without_hot_added(t: Topology, hot) -> Topology:
    """The machine before memory hot-add: ``hot`` (``[(node id, MiB)]``) taken off its nodes,
    from ZONE_NORMAL first (where ``memhp_default_state=online`` puts memory above 4 GiB:
    ``zone_for_pfn_range()`` -> ``default_kernel_zone_for_pfn()``), then the zones below. A node
    left without memory leaves N_MEMORY.

    >>> t = without_hot_added(sources.load("penalty-tie-hotplug"), [(2, 256)])
    >>> t.present_pages[2].tolist(), t.has_memory.tolist()
    ([0, 65536, 0, 0, 0], [True, True, True, True])
    """
    if not hot:
        return t
    doc = sources.to_dict(t)
    doc["states"] = {k: v for k, v in doc["states"].items() if k in ("possible", "online")}
    doc["meta"] = {k: v for k, v in doc.get("meta", {}).items() if k != "hot_added"}
    per_mib = (1 << 20) // t.page_size
    for nid, mib in hot:
        nd = next((n for n in doc["nodes"] if n["id"] == int(nid)), None)
        if nd is None:
            raise NumalabError(f"memory was hot-added to node {nid}, which the machine does not have", input=t.name)
        left = int(mib) * per_mib
        for z in [z for z in ("Normal", "DMA32", "DMA") if z in nd["zones"]]:
            take = min(left, nd["zones"][z]["present"])
            nd["zones"][z] = {"present": nd["zones"][z]["present"] - take,
                              "managed": max(0, nd["zones"][z]["managed"] - take)}
            left -= take
        if left:
            raise NumalabError(f"node {nid} has less memory than the {mib} MiB hot-added to it", input=t.name)
        nd["zones"] = {z: v for z, v in nd["zones"].items() if v["present"] or v["managed"]}
        nd["mem_mib"] = round(sum(v["present"] for v in nd["zones"].values()) / per_mib, 3)
    return sources.from_dict(doc, where=f"{t.name} before hot-add")


def zonelist_builds(guest: Topology, hot=()) -> list[tuple[str, Topology]]:
    """Every zonelist build the kernel makes from boot until the probe runs, as ``(when,
    machine)``: the boot build on the machine without hot-added memory, then one rebuild per
    hot-added DIMM (in plug order) whose memory populates a zone that was empty.

    ``online_pages()`` (mm/memory_hotplug.c) calls ``build_all_zonelists(NULL)`` only when the
    zone it onlines into was not populated (``need_zonelists_rebuild``), after
    ``node_states_set_node()`` put a newly memoried node into N_MEMORY. The rebuild runs after
    SMP bring-up, so nodes with CPUs are penalised (``when="rebuild"``).

    >>> [w for w, _ in zonelist_builds(sources.load("penalty-tie-hotplug"), [(2, 256)])]
    ['boot', 'rebuild']
    >>> [w for w, _ in zonelist_builds(sources.load("penalty-tie-hotplug"), [(2, 128), (2, 128)])]
    ['boot', 'rebuild']
    """
    hot = list(hot)
    builds = [("boot", without_hot_added(guest, hot))]
    normal = guest.zone_types.index("Normal") if "Normal" in guest.zone_types else None
    for j, (nid, _mib) in enumerate(hot):
        before = without_hot_added(guest, hot[j:])
        i = before.index_of(int(nid))
        if normal is None or before.present_pages[i, normal] == 0:
            builds.append(("rebuild", without_hot_added(guest, hot[j + 1:])))
    return builds


def boot_rows(guest: Topology, log: dict, release: str, hot=()) -> list[dict]:
    """Fallback order of every node (kernels before v5.16 print none: then how many were printed,
    0 expected), ``Built N zonelists`` and ``Policy zone`` of every zonelist build: the boot-time one (``when="boot"``: before SMP bring-up put any CPU into its node's
    cpumask) and, when memory was hot-added (``hot``: ``[(Linux node id, MiB)]``), each rebuild
    (``when="rebuild"``, see :func:`zonelist_builds`)."""
    kernel = major_minor(release)
    builds = zonelist_builds(guest, hot)
    rows = []
    if hot or len(log["sets"]) > 1:
        rows.append(_row("boot", "zonelist builds", len(log["built"]), len(builds)))
    for j, (when, machine) in enumerate(builds):
        zl = zonelist.build(machine, kernel=kernel, when=when)
        tag = "" if j == 0 else (" (after hot-add)" if len(builds) == 2 else f" (rebuild {j})")
        got = {str(int(n)): zl.fallback_order(int(n)) for n in machine.node_ids[zl.built]}
        want = log["sets"][j] if j < len(log["sets"]) else {}
        if not zl.kernel.print_fallback_order:  # before v5.16 build_zonelists() prints no order
            rows.append(_row("boot", f"Fallback order lines printed{tag}", len(want), 0))
            got = {}
        for k in sorted(set(got) | set(want), key=int):
            rows.append(_row("boot", f"fallback order node {k}{tag}", want.get(k), got.get(k)))
        built = [ln.split("  Total pages:")[0] for ln in boot_log_lines(zl) if ln.startswith("Built ")]
        if j < len(log["built"]):
            rows.append(_row("boot", f"Built N zonelists{tag}", log["built"][j].split("  Total pages:")[0],
                             built[0] if built else None))
        if j < len(log["policy_zone"]):
            rows.append(_row("boot", f"policy zone{tag}", log["policy_zone"][j], zl.policy_zone_name))
    return rows


_NOTE_IL = "interleave start (il_prev / mapping address): the same cycle, another start"
_NOTE_SHM = "shared-memory interleave start (offset biased by the shmem inode number): the same cycle, another start"


def _pages_verdict(mode, want, got, shm=False, nodes=None):
    """``(verdict, note)`` for two page-node sequences of one policy; ``nodes``: the interleave
    nodes as the kernel itself reported them (get_mempolicy and mems_allowed), when known."""
    if want == got:
        return "agree", ""
    if mode in _INTERLEAVED and want and got and len(want) == len(got) and _same_cycle(want, got, nodes):
        return "nondeterministic", _NOTE_SHM if shm else _NOTE_IL
    return "differ", ""


def _reported_interleave_set(nodemask, flags, mems_allowed):
    """The nodes an interleave policy cycles over, from what the kernel itself reported (its
    get_mempolicy nodemask and the task's mems_allowed), or None when that is empty.

    get_mempolicy returns the user's nodemask for MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES
    (``w.user_nodemask``). Static: the nodes of that mask within mems_allowed. Relative: the
    kernel folds the mask modulo the weight of mems_allowed and maps bit i onto the i-th allowed
    node (``mpol_relative_nodemask()``, mm/mempolicy.c, since v2.6.26's "mempolicy: add
    MPOL_F_RELATIVE_NODES flag"; the same mapping as :func:`numalab.nodemask.relative`, written
    out here so that the comparison uses only the kernel's reported values).

    >>> sorted(_reported_interleave_set(range(64), ["RELATIVE_NODES"], range(1, 64)))[:3]
    [1, 2, 3]
    >>> sorted(_reported_interleave_set([0, 2], ["RELATIVE_NODES"], [4, 5, 6]))
    [4, 6]
    >>> sorted(_reported_interleave_set([0, 9], ["STATIC_NODES"], [1, 9]))
    [9]
    """
    allowed = sorted(set(mems_allowed))
    if "RELATIVE_NODES" in flags:
        got = {allowed[i % len(allowed)] for i in nodemask} if allowed else set()
    else:
        got = set(nodemask) & set(allowed)
    return got or None


def _same_cycle(a, b, nodes=None) -> bool:
    """True when ``a`` is ``b``'s repeating cycle started at another position.

    ``nodes`` (optional): the set the interleave cycles over, as the kernel reported it. With
    fewer pages than nodes the two windows need not overlap (64 nodes, 16 pages: the shmem
    inode bias can start the kernel's window anywhere); each must then be a run of consecutive
    members of ``nodes`` in ascending order (wrapping), as ``next_node_in()`` walks them.

    >>> _same_cycle([2, 3, 1, 2, 3], [1, 2, 3, 1, 2]), _same_cycle([1, 1, 2], [1, 2, 1])
    (True, False)
    >>> _same_cycle([3, 4, 0, 1], [0, 1, 2, 3]), _same_cycle([3, 4, 0, 1], [0, 1, 2, 4])
    (True, False)
    >>> _same_cycle([6, 7], [0, 1]), _same_cycle([6, 7], [0, 1], nodes=range(8))
    (False, True)
    >>> _same_cycle([6, 0], [0, 1], nodes=range(8)), _same_cycle([7, 0], [0, 1], nodes=range(8))
    (False, True)
    """
    if nodes is not None and len(a) < len(set(nodes)):
        ring = sorted(set(nodes))
        after = {x: ring[(k + 1) % len(ring)] for k, x in enumerate(ring)}
        if all(x in after for x in (*a, *b)) and all(
                all(seq[i + 1] == after[seq[i]] for i in range(len(seq) - 1)) for seq in (a, b)):
            return True
    n = len(b)
    p = next(p for p in range(1, n + 1) if all(b[i] == b[i + p] for i in range(n - p)))
    if any(all(a[i] == b[(i + s) % p] for i in range(len(a))) for s in range(p)):
        return True
    # Fewer pages than interleave nodes: neither sequence shows the whole cycle. Interleave walks
    # its nodes in ascending id order (next_node_in()), so both must be windows of the ascending
    # cycle over every node either of them touched, and overlap (else nothing aligns them).
    cycle = sorted(set(a) | set(b))
    nxt = {x: cycle[(k + 1) % len(cycle)] for k, x in enumerate(cycle)}
    return len(cycle) > min(len(a), len(b)) and len(set(a) & set(b)) >= 2 and all(
        all(seq[i + 1] == nxt[seq[i]] for i in range(len(seq) - 1)) for seq in (a, b))


def _scenarios(guest, kernel, cases, **kw) -> list[dict]:
    """:func:`numalab.alloc.run_scenarios` for a batch, one result document per case
    (:func:`numalab.viz.text.scenario_document`, what ``numalab policy --json`` prints)."""
    b = run_scenarios(guest, kernel, cases, **kw)
    return [scenario_document(scenario_at(b, j, guest.name, kw.get("scope", "task"))) for j in range(len(cases))]


def _validate_case(r):
    return (r["mode"].lower(), [_FLAG[f] for f in r["flags"]],
            None if r["nodemask_in"] is None else nodestr(r["nodemask_in"]))


def _validate_group(r):
    return ("validate", None if r["cgroup"] == "ROOT" else r["cpuset_mems"], _SCOPE[r["api"]],
            r["cpu_node"], len(r["placement"]))


def _rebind_case(r):
    return (r["mode"].lower(), [_FLAG[f] for f in r["flags"]],
            nodestr(r["nodemask_in"]) if r["nodemask_in"] else None)


def _rebind_group(r):
    return ("rebind", tuple(r["mems_sequence"]), r.get("scope", "task"), r["phases"][0]["cpu_node"],
            r["pages_per_phase"])


def _validate_row(r, res):
    mems = None if r["cgroup"] == "ROOT" else r["cpuset_mems"]
    item = (f"{r['api']} {r['mode']}{''.join('|' + f for f in r['flags'])} nodes={r['mask_case']} "
            f"cpuset={'root' if mems is None else mems}")
    want = {"ret": r["ret"]}
    got = {"ret": res["error"] or "OK"}
    if r["ret"] == "OK":
        rep = r["get_task"] if r["api"] == "set" else r["get_vma"]
        want.update(mode=rep["mode"], flags=rep["flags"], nodes=nodestr(rep["nodemask"]),
                    mems_allowed=nodestr(r["mems_allowed"]))
        if res["error"] is None:
            s = res["steps"][0]
            got.update(mode=s["reported_mode"], flags=s["reported_flags"], nodes=s["reported_nodes"],
                       mems_allowed=s["mems_allowed"])
    want["pages"] = r["placement"]
    got["pages"] = res["steps"][0]["placement"] if res["error"] is None else None
    if r["ret"] != "OK" or res["error"] is not None:
        # a refused call leaves the default policy; only the refusal is compared
        want.pop("pages"), got.pop("pages")
        return _row("policy", item, want, got)
    verdict, note = "agree", ""
    if {k: v for k, v in want.items() if k != "pages"} != {k: v for k, v in got.items() if k != "pages"}:
        verdict = "differ"
    else:
        verdict, note = _pages_verdict(r["mode"], want["pages"], got["pages"], shm=r["api"] == "mbind_shm",
                                       nodes=_reported_interleave_set(rep["nodemask"], r["flags"], r["mems_allowed"]))
    return _row("policy", item, want, got, verdict, note)


def _rebind_row(r, res):
    seq = r["mems_sequence"]
    item = (f"rebind {r['transition']}{' (mbind)' if r.get('scope') == 'vma' else ''} {' -> '.join(seq)}: {r['mode']}{''.join('|' + f for f in r['flags'])} "
            f"nodes={nodestr(r['nodemask_in'] or [])}")
    want, got = {"ret": r["set_ret"]}, {"ret": res["error"] or "OK"}
    verdict, notes = ("agree" if want == got else "differ"), []
    for p, s in zip(r["phases"], res["steps"]):
        pol = p["policy"]
        w = {"effective": p["mems_effective"], "mems_allowed": nodestr(p["mems_allowed"]), "mode": pol["mode"],
             "flags": pol["flags"], "nodes": nodestr(pol["nodemask"]), "pages": p["new_pages"],
             "old_pages": p["old_pages"]}
        g = {"effective": s["effective"], "mems_allowed": s["mems_allowed"], "mode": s["reported_mode"],
             "flags": s["reported_flags"], "nodes": s["reported_nodes"], "pages": s["placement"],
             "old_pages": s["old_pages"]}
        want[f"phase {p['phase']}"], got[f"phase {p['phase']}"] = w, g
        head = [k for k in w if k not in ("pages", "old_pages")]
        if any(w[k] != g[k] for k in head) or len(w["old_pages"]) != len(g["old_pages"]):
            verdict = "differ"
            continue
        for a, b in [(w["pages"], g["pages"])] + list(zip(w["old_pages"], g["old_pages"])):
            v, note = _pages_verdict(r["mode"], a, b)
            if v == "differ":
                verdict = "differ"
            elif v == "nondeterministic" and verdict == "agree":
                verdict = "nondeterministic"
                notes.append(note)
    if len(r["phases"]) != len(res["steps"]):
        verdict = "differ"
    return _row("policy", item, want, got, verdict, notes[0] if notes and verdict != "differ" else "")


def policy_rows(records: list[dict], guest: Topology, release: str, hot=()) -> list[dict]:
    """One row per probe record (validate or rebind), compared with what
    :func:`numalab.alloc.run_scenario` predicts on the guest's own topology for the same release
    (computed in batches: :func:`numalab.alloc.run_scenarios`, one per cpuset sequence), with
    the zonelists of the last build before the probe ran (:func:`zonelist_builds`)."""
    kernel = major_minor(release)
    when, _ = zonelist_builds(guest, hot)[-1]
    zl = zonelist.build(guest, kernel=kernel, when=when)
    groups = {}
    for i, r in enumerate(records):
        key = _validate_group(r) if r["kind"] == "validate" else _rebind_group(r)
        groups.setdefault(key, []).append(i)
    results = [None] * len(records)
    for (kind, mems, scope, cpu_node, pages), idx in groups.items():
        case = _validate_case if kind == "validate" else _rebind_case
        kw = {"mems": mems} if kind == "validate" else {"mems": mems[0], "then_mems": list(mems[1:])}
        batch = _scenarios(guest, kernel, [case(records[i]) for i in idx], scope=scope, cpu_node=cpu_node,
                           pages=pages, zonelists=zl, **kw)
        for i, res in zip(idx, batch):
            results[i] = res
    return [(_validate_row if r["kind"] == "validate" else _rebind_row)(r, res) for r, res in zip(records, results)]


def summarize(rows: list[dict]) -> dict:
    """Counts per experiment and verdict, and the exit status (0 when nothing differs, else 1).

    >>> summarize([{"experiment": "boot", "verdict": "agree"}, {"experiment": "boot", "verdict": "differ"}])
    {'boot': {'agree': 1, 'nondeterministic': 0, 'differ': 1}, 'status': 1}
    """
    out = {}
    for r in rows:
        c = out.setdefault(r["experiment"], dict.fromkeys(VERDICTS, 0))
        c[r["verdict"]] += 1
    out["status"] = int(any(r["verdict"] == "differ" for r in rows))
    return out
