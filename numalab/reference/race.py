"""Scalar reference of the race model: plain recursive enumeration of the interleavings.

The allocating task and the cpuset writer are written as one plain function each that moves a
state dict by one step, in the order the kernel code reads (alloc_pages_vma,
__alloc_pages_nodemask, __alloc_pages_slowpath; cpuset_change_task_nodemask, mpol_rebind_mm),
and :func:`enumerate_outcomes` tries, depth first, every actor that may move at each point.
It reads the compiled program as plain values (``numalab.race.Program.as_dict()``) and shares
no code with the vectorized engine in :mod:`numalab.race`, which is tested against it.
"""
from __future__ import annotations

__all__ = ["enumerate_outcomes"]

_OUTCOMES = ("allowed_page", "retry", "off_policy_page", "disallowed_page", "failure", "stuck", "spurious_oom")


def _lowest(x):
    if x <= 0:
        return -1
    i = 0
    while not x >> i & 1:
        i += 1
    return i


def _next_in(prev, x, n):
    """next_node_in: first set bit after prev, wrapping to the first set bit."""
    for i in range(prev + 1, 64):
        if x >> i & 1:
            return i
    return _lowest(x)


def _nth(x, k):
    ids = [i for i in range(64) if x >> i & 1]
    return ids[k % len(ids)] if ids else -1


def _walk(p, start, cursor, allow):
    """Zonelist walk: first node of start's order at position >= cursor in ``allow``."""
    order = p["order"][max(start, 0)]
    for pos in range(cursor, len(order)):
        if allow >> order[pos] & 1:
            return order[pos], pos
    return -1, len(order)


def _mask(s, p):
    """The policy nodemask the allocation reads now."""
    return {1: s["tpol"], 2: s["vpol"]}.get(s["src"], s["mval"])


def _see(s, p, val):
    if s["seen"] < 0:
        s["seen"] = val
    elif val != s["seen"]:
        s["unstable"] = 1
    if val not in p["stable"]:
        s["neither"] = 1


def _allow(s, p):
    everything = (1 << p["nodes"]) - 1
    return (_mask(s, p) if s["use"] else everything) & s["mems"]


def _got_page(s, p, node):
    pol = _mask(s, p)
    if s["wstamp"] > 0 and p["removed"] >> node & 1:
        s["out"] = "disallowed_page"
    elif p["mode"] == "interleave" and not pol >> node & 1:
        s["out"] = "off_policy_page"
    elif s["restarts"] or s["warn"]:
        s["out"] = "retry"
    else:
        s["out"] = "allowed_page"
    s["page"] = node


def _check(s, p):
    moved = s["seq"] != s["cookie_b"]
    drop = bool(p["check_retry_cpuset"] and s["use"] and not (_mask(s, p) & s["mems"]))
    if drop:
        s["use"] = 0
    return drop or moved


def _check_then(s, p, then):
    """check_retry_cpuset with the nodemask in use observed: restart the slow path, or go on to
    step ``then``."""
    if s["use"]:
        _see(s, p, _mask(s, p))
    if _check(s, p):
        s["restarts"] += 1
        s["pc"] = "slow"
    else:
        s["pc"] = then


def _loop_entry(p):
    return "retry_top" if p["retry_cpuset_each_loop"] else "retry_try"


def _task_can_move(s, p):
    pc = s["pc"]
    if pc in ("cookie_a", "slow") and s["seq"] % 2:
        return False                        # read_mems_allowed_begin waits for the writer
    if pc in ("retry_top", "retry_try") and s["loop"] and s["lstamp"] == s["wstamp"]:
        return False                        # the loop failed in this very state: nothing to retry
    return True


def _writer_can_move(s, p):
    if s["wpc"] >= len(p["writer"]):
        return False
    holds_mmap = p["entry"] == "fault" and s["pc"] != "fault"
    return not (p["writer"][s["wpc"]]["needs_mm_free"] and holds_mmap)


def _writer(s, p):
    w = p["writer"][s["wpc"]]
    for k, v in w["set"].items():
        s[k] = v
    s["seq"] += w["seq"]
    s["wpc"] += 1
    s["wstamp"] += 1


def _task(s, p):
    """One step of the allocating task (same step boundaries as the engine's TASK_STEPS)."""
    pc = s["pc"]
    if pc == "fault":
        s["pc"] = "cookie_a" if p["outer_cookie"] else "policy"
    elif pc == "cookie_a":
        s["cookie_a"] = s["seq"]
        s["pc"] = "policy"
    elif pc == "policy":
        live = s["tpol"] if p["scope"] == "task" else s["vpol"]
        private = p["copy_swap"] or p["cpuset_zonelists"]
        s["src"] = 3 if private else (1 if p["scope"] == "task" else 2)
        s["mval"] = live if private else s["mval"]
        if p["cpuset_zonelists"]:
            s["cookie_b"] = s["mems"]       # the cpuset's zonelists, taken once
        s["start"], s["use"] = p["cpu_node"], 0
        if p["mode"] == "bind":
            s["use"] = 1 if live & s["mems"] else 0
            if not s["use"] and not private:
                s["src"] = 0
        elif p["mode"] == "preferred":
            s["start"] = _lowest(live)
        elif p["entry"] == "fault":
            s["start"] = _nth(live, p["ilx"])
        elif p["il_prev"]:
            s["start"] = s["il"] = _next_in(s["il"], live, p["nodes"])
        else:
            s["start"], s["il"] = s["il"], _next_in(s["il"], live, p["nodes"])
        _see(s, p, live)
        s["pc"] = "czl_alloc" if p["cpuset_zonelists"] else "fast_prep"
    elif pc == "fast_prep":
        if s["use"]:
            _see(s, p, _mask(s, p))
        _, s["cursor"] = _walk(p, s["start"], 0, _mask(s, p) if s["use"] else s["mems"])
        s["pc"] = "fast_try"
    elif pc == "fast_try":
        if s["use"]:
            _see(s, p, _mask(s, p))
        node, _ = _walk(p, s["start"], s["cursor"], _allow(s, p))
        if node >= 0 and not p["low_watermark"]:
            _got_page(s, p, node)
        else:
            s["pc"] = "slow"
    elif pc == "slow":
        s["cookie_b"] = s["seq"]
        if p["slowpath_recomputes_zoneref"]:
            if s["use"]:
                _see(s, p, _mask(s, p))
            node, s["cursor"] = _walk(p, s["start"], 0, _mask(s, p) if s["use"] else (1 << p["nodes"]) - 1)
            if node < 0:
                s["pc"] = "nopage"
                return
        s["pc"] = "slow_try"
    elif pc == "slow_try":
        if s["use"]:
            _see(s, p, _mask(s, p))
        node, _ = _walk(p, s["start"], s["cursor"], _allow(s, p))
        s["loop"] = 0
        if node >= 0:
            _got_page(s, p, node)
        else:
            s["pc"] = _loop_entry(p)
    elif pc == "retry_top":
        _check_then(s, p, "retry_try")
    elif pc == "retry_try":
        if s["use"]:
            _see(s, p, _mask(s, p))
        node, _ = _walk(p, s["start"], s["cursor"], _allow(s, p))
        s["loop"], s["lstamp"] = 1, s["wstamp"]
        if node >= 0:
            _got_page(s, p, node)
        else:
            s["pc"] = _loop_entry(p) if p["endless_reclaim"] else "pre_oom"
    elif pc == "pre_oom":
        _check_then(s, p, "oom")
    elif pc == "oom":
        if not p["can_oom"]:
            s["pc"] = "nopage"
            return
        node, _ = _walk(p, s["start"], s["cursor"], _allow(s, p))
        if node >= 0:
            _got_page(s, p, node)
        else:
            s["out"] = "spurious_oom"
    elif pc == "nopage":
        if _check(s, p):
            s["restarts"] += 1
            s["pc"] = "slow"
        else:
            s["warn"] = 1
            s["pc"] = "after_null"
    elif pc == "after_null":
        if p["outer_cookie"] and s["seq"] != s["cookie_a"]:
            s["restarts"] += 1
            s["pc"] = "cookie_a"
        else:
            s["out"] = "failure"
    elif pc == "czl_alloc":
        if s["use"]:
            _see(s, p, s["mval"])
        allow = (s["mval"] if s["use"] else (1 << p["nodes"]) - 1) & s["cookie_b"]
        node, _ = _walk(p, s["start"], 0, allow)
        if node >= 0:
            _got_page(s, p, node)
        else:
            s["out"] = "failure"
    else:  # pragma: no cover
        raise AssertionError(pc)


def _initial(p):
    first = "fault" if p["entry"] == "fault" else ("cookie_a" if p["outer_cookie"] else "policy")
    il = p["last_node"]
    if p["mode"] == "interleave" and p["entry"] == "current" and not p["il_prev"]:
        il = _next_in(p["last_node"], p["tpol"], p["nodes"])       # v4.10 stores the next node
    return {"mems": p["mems"], "seq": 0, "tpol": p["tpol"], "vpol": p["vpol"], "wpc": 0, "wstamp": 0,
            "pc": first, "out": None, "page": -1, "cookie_a": 0, "cookie_b": 0, "src": 0, "mval": 0,
            "use": 0, "start": p["cpu_node"], "cursor": 0, "il": il, "loop": 0, "lstamp": 0,
            "restarts": 0, "warn": 0, "seen": -1, "unstable": 0, "neither": 0}


def enumerate_outcomes(p: dict) -> dict:
    """Outcome counts over every interleaving of a compiled program (``Program.as_dict()``),
    plus ``unstable_nodemask``, ``neither_nodemask``, ``failure_warning`` and ``interleavings``."""
    counts = dict.fromkeys(_OUTCOMES, 0)
    counts.update(unstable_nodemask=0, neither_nodemask=0, failure_warning=0, interleavings=0)

    def visit(s):
        if s["out"] is not None:
            counts[s["out"]] += 1
            counts["unstable_nodemask"] += s["unstable"]
            counts["neither_nodemask"] += s["neither"]
            counts["failure_warning"] += s["warn"]
            counts["interleavings"] += 1
            return
        moved = False
        if _task_can_move(s, p):
            t = dict(s)
            _task(t, p)
            visit(t)
            moved = True
        if _writer_can_move(s, p):
            w = dict(s)
            _writer(w, p)
            visit(w)
            moved = True
        if not moved:
            s = dict(s, out="stuck")
            visit(s)

    visit(_initial(p))
    return counts
