"""Scalar reference for memory policies (mm/mempolicy.c): one policy at a time, plain loops.

Nodemasks are Python sets of node ids. A policy is a dict with ``mode`` (uapi value), ``flags``
(uapi mode flags), ``local`` (MPOL_F_LOCAL, before v5.14), ``nodes`` (set) and ``w`` (set: the
user_nodemask / cpuset_mems_allowed union). ``None`` is the NULL policy (MPOL_DEFAULT).
Written from the kernel's rules (kernel-semantics.md section 4), independently of
:mod:`numalab.mempolicy`, which the tests compare against this module.

Examples
--------
>>> pol = create(2, 0, {1, 3}, {0, 1, 2, 3}, "6.1")
>>> sorted(pol["nodes"]), sorted(rebind(pol, {0, 1}, "6.1")["nodes"])
([1, 3], [1])
"""
from __future__ import annotations

from ..kernel import profile

__all__ = ["STATIC", "RELATIVE", "NUMA_BALANCING", "bitmap_remap", "bitremap", "fold", "onto",
           "relative", "create", "rebind", "report", "interleave_static", "interleave_dynamic",
           "weighted_static", "weighted_dynamic", "migrate", "place"]

DEFAULT, PREFERRED, BIND, INTERLEAVE, LOCAL, PREFERRED_MANY, WEIGHTED = range(7)
STATIC, RELATIVE, NUMA_BALANCING = 1 << 15, 1 << 14, 1 << 13


def _sorted(s):
    return sorted(s)


def bitremap(b, old, new):
    """node_remap / bitmap_bitremap: ordinal of ``b`` in ``old`` onto ``new`` (identity outside)."""
    o = _sorted(old)
    n = _sorted(new)
    if b not in old or not n:
        return b
    return n[o.index(b) % len(n)]


def bitmap_remap(src, old, new):
    """nodes_remap: every bit through :func:`bitremap`."""
    return {bitremap(b, old, new) for b in src}


def fold(src, sz):
    """bitmap_fold: bit ``b`` -> ``b mod sz``."""
    out = set()
    for b in src:
        out.add(b % sz)                     # sz == 0 divides by zero, as in the kernel
    return out


def onto(src, rel):
    """bitmap_onto: bit ``j`` -> the ``j``-th set bit of ``rel`` (bits beyond weight are dropped)."""
    r = _sorted(rel)
    return {r[j] for j in src if j < len(r)}


def relative(user, rel):
    """mpol_relative_nodemask: fold the user mask by weight(rel), then onto rel."""
    return onto(fold(user, len(rel)), rel)


def _mode_flags(k):
    return STATIC | RELATIVE | (NUMA_BALANCING if k.flag_numa_balancing else 0)


def _mode_max(k):
    m = 5
    if k.mode_preferred_many:
        m += 1
    if k.mode_weighted_interleave:
        m += 1
    return m


def create(mode, flags, user, allowed, kernel="current", n_memory=None, bad_mask=False):
    """set_mempolicy/mbind: returns a policy dict, ``None`` (NULL policy) or an errno string."""
    k = profile(kernel)
    mf = _mode_flags(k)
    raw = mode | (flags & ~mf)
    flags = flags & mf
    if raw >= _mode_max(k):
        return "EINVAL"
    if flags & STATIC and flags & RELATIVE:
        return "EINVAL"
    if flags & NUMA_BALANCING:
        ok = mode == BIND or (mode == PREFERRED_MANY and k.numa_balancing_preferred_many)
        if not ok:
            return "EINVAL"
    if bad_mask:
        return "EINVAL"
    user = set(user)
    local = False
    if mode == DEFAULT:
        if user:
            return "EINVAL"
        return None
    if mode == PREFERRED:
        if not user:
            if flags & (STATIC | RELATIVE):
                return "EINVAL"
            local = True
    elif mode == LOCAL:
        if user or flags & (STATIC | RELATIVE):
            return "EINVAL"
        local = True
    elif not user:
        return "EINVAL"
    if local:
        if k.local_is_mode:
            return {"mode": LOCAL, "flags": flags, "local": False, "nodes": set(), "w": set()}
        return {"mode": PREFERRED, "flags": flags, "local": True, "nodes": set(), "w": set()}
    mask1 = set(allowed) if n_memory is None else set(allowed) & set(n_memory)
    if flags & RELATIVE:
        mask2 = relative(user, mask1)
    else:
        mask2 = user & mask1
    w = set(user) if flags & mf else set(allowed)
    if not mask2:
        return "EINVAL"
    nodes = {min(mask2)} if mode == PREFERRED else mask2
    return {"mode": mode, "flags": flags, "local": False, "nodes": nodes, "w": w}


def rebind(pol, new, kernel="current", step="once"):
    """mpol_rebind_policy for one cpuset change; returns a new policy dict (or the NULL policy)."""
    if pol is None or isinstance(pol, str):
        return pol
    k = profile(kernel)
    p = {"mode": pol["mode"], "flags": pol["flags"], "local": pol["local"], "nodes": set(pol["nodes"]),
         "w": set(pol["w"])}
    new = set(new)
    mode, flags = p["mode"], p["flags"]
    if k.local_is_mode and mode == LOCAL:
        return p
    store = bool(flags & _mode_flags(k))
    if step == "once" and not store and p["w"] == new and (k.local_is_mode or not p["local"]):
        return p
    if mode in (BIND, INTERLEAVE, WEIGHTED):
        if flags & STATIC:
            tmp = p["w"] & new
        elif flags & RELATIVE:
            tmp = relative(p["w"], new)
        else:
            if step == "step2":
                tmp = set(p["w"])
                p["w"] = set(new)
            else:
                tmp = bitmap_remap(p["nodes"], p["w"], new)
                if step == "step1" or k.rebind_stores_result:
                    p["w"] = set(tmp)
                else:
                    p["w"] = set(new)
        if not tmp:
            tmp = set(new)
        p["nodes"] = p["nodes"] | tmp if step == "step1" else tmp
    elif mode in (PREFERRED, PREFERRED_MANY):
        if k.preferred_not_remapped:
            p["w"] = set(new)
        elif flags & STATIC:
            f = min(p["w"]) if p["w"] else None
            if f is not None and f in new:
                p["nodes"] = {f}
                p["local"] = False
            else:
                p["local"] = True
        elif flags & RELATIVE:
            t = relative(p["w"], new)
            p["nodes"] = {min(t)} if t else set()
        elif not p["local"]:
            p["nodes"] = {bitremap(b, p["w"], new) for b in p["nodes"]}
            p["w"] = set(new)
    return p


def report(pol, nr_node_ids, kernel="current"):
    """get_mempolicy(0): ``(mode, flags, nodes)``, nodes cut to whole 64-bit longs of nr_node_ids."""
    if pol is None or isinstance(pol, str):
        return DEFAULT, 0, set()
    k = profile(kernel)
    keep = max(1, -(-nr_node_ids // 64)) * 64
    if pol["flags"] & _mode_flags(k):
        nodes = pol["w"]
    elif pol["local"]:
        nodes = set()
    else:
        nodes = pol["nodes"]
    return pol["mode"], pol["flags"], {b for b in nodes if b < keep}


def interleave_static(nodes, ilx):
    """offset_il_node: the ``ilx mod weight``-th node (None when empty)."""
    s = _sorted(nodes)
    return s[ilx % len(s)] if s else None


def interleave_dynamic(nodes, il_prev, count):
    """interleave_nodes repeated: next node after il_prev, wrapping. Returns (list, il_prev)."""
    s = _sorted(nodes)
    out = []
    for _ in range(count):
        nxt = [b for b in s if b > il_prev]
        il_prev = nxt[0] if nxt else s[0]
        out.append(il_prev)
    return out, il_prev


def weighted_static(nodes, ilx, weights):
    """weighted_interleave_nid: walk the nodes subtracting weights from ``ilx mod total``."""
    s = _sorted(nodes)
    wts = [max(1, int(weights[b])) if weights is not None else 1 for b in s]
    t = ilx % sum(wts)
    for b, w in zip(s, wts):
        if t < w:
            return b
        t -= w
    raise AssertionError("unreachable")


def weighted_dynamic(nodes, il_prev, il_weight, count, weights):
    """weighted_interleave_nodes repeated: returns (list, il_prev, il_weight)."""
    s = _sorted(nodes)
    out = []
    for _ in range(count):
        if il_weight == 0 or il_prev not in nodes:
            nxt = [b for b in s if b > il_prev]
            il_prev = nxt[0] if nxt else s[0]
            il_weight = max(1, int(weights[il_prev])) if weights is not None else 1
        il_weight -= 1
        out.append(il_prev)
    return out, il_prev, il_weight


def migrate(pages, frm, to):
    """do_migrate_pages: where each page (node id) ends after moving from ``frm`` to ``to``."""
    frm, to = set(frm), set(to)
    pages = list(pages)
    tmp = set(frm)
    while tmp:
        source = dest = None
        for s in sorted(tmp):
            if len(frm) != len(to) and s in to:
                continue
            d = bitremap(s, frm, to)
            if s == d:
                continue
            source, dest = s, d
            if dest not in tmp:
                break
        if source is None:
            break
        tmp.discard(source)
        pages = [dest if x == source else x for x in pages]
    return pages


def place(pol, orders, allowed, local, pages, *, mems_allowed=None, policy_zone_ok=True, ilx_offset=0,
          weights=None, home=None):
    """Node of each page for a policy; ``orders[s]`` = node ids reachable from start node ``s`` in
    zonelist order (zones the request may use), ``allowed`` = nodes the cpuset allows. ``home``:
    the policy's home node (set_mempolicy_home_node), where BIND and PREFERRED_MANY start."""
    allowed = set(allowed)
    mems_allowed = allowed if mems_allowed is None else set(mems_allowed)

    def first(start, filt):
        for n in orders[start]:
            if n in filt:
                return n
        return -1

    if pol is None or isinstance(pol, str) or pol["mode"] == LOCAL or pol["local"]:
        return [first(local, allowed)] * pages
    mode = pol["mode"]
    if mode == PREFERRED:
        return [first(min(pol["nodes"]), allowed)] * pages
    start = local if home is None or mode not in (BIND, PREFERRED_MANY) else home
    if mode == BIND:
        if policy_zone_ok and pol["nodes"] & mems_allowed:
            return [first(start, allowed & pol["nodes"])] * pages
        return [first(start, allowed)] * pages
    if mode == PREFERRED_MANY:
        n = first(start, allowed & pol["nodes"])
        if n < 0:
            n = first(start, allowed)
        return [n] * pages
    out = []
    for i in range(pages):
        ilx = ilx_offset + i
        if mode == WEIGHTED:
            nid = weighted_static(pol["nodes"], ilx, weights)
        else:
            nid = interleave_static(pol["nodes"], ilx)
        out.append(first(nid if nid is not None else local, allowed))
    return out
