"""Memory policies (mm/mempolicy.c) as arrays: creation, rebinding, reporting, allocation targets.

A *batch* of policies is a :class:`PolicyBatch`: one row per policy, with the mode, the uapi mode
flags, the effective nodemask ``nodes`` and the kernel's ``w`` union (``w.user_nodemask`` when a
mode flag is set, ``w.cpuset_mems_allowed`` otherwise: one storage, as in ``struct mempolicy``, so
that the kernel's aliasing quirks come out by themselves). Nodemasks are stored packed, 64 node
bits per ``uint64`` word (bit ``b`` of the nodemask is bit ``b % 64`` of word ``b // 64``), which
lets one cpuset transition rebind a million policies in a few tens of milliseconds.

Every operation takes the kernel version (``numalab.kernel.profile``) and applies that release's
rules:

* :func:`create` is set_mempolicy()/mbind(): ``sanitize_mpol_flags``, ``get_nodes``, ``mpol_new``
  and the contextualisation of ``mpol_set_nodemask`` against the cpuset, with the errno of every
  refused combination (``"EINVAL"``);
* :func:`rebind` is ``mpol_rebind_policy`` for one cpuset change (v4.10 two steps for the task
  policy, the v4.13..v5.1 stored-result bug, v5.14+ PREFERRED kept, empty results widened to the
  new mems);
* :func:`report` is what get_mempolicy() returns;
* :func:`policy_nodemask` is the nodemask and start node handed to the allocator, and
  :func:`interleave_static` / :func:`interleave_dynamic` choose interleave nodes.

Examples
--------
>>> import numpy as np
>>> from numalab.mempolicy import create, rebind, report
>>> from numalab.nodemask.packed import from_nodes, to_nodes
>>> user = from_nodes([[1, 3]], 64)                 # the user's nodemask {1,3}
>>> allowed = from_nodes([0, 1, 2, 3], 64)          # the task's cpuset mems 0-3
>>> pol = create(["BIND"], [0], user, allowed, "6.1")
>>> pol.errno_names().tolist(), to_nodes(pol.nodes[0]).tolist()
([None], [1, 3])
>>> pol2 = rebind(pol, from_nodes([0, 1], 64), "6.1")   # cpuset.mems 0-3 -> 0-1
>>> to_nodes(pol2.nodes[0]).tolist()                      # {1,3} remapped onto {0,1}
[1]
>>> mode, flags, mask = report(pol2, nr_node_ids=4)
>>> MODE_NAMES[int(mode[0])], to_nodes(mask[0]).tolist()
('BIND', [1])
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import NumalabError
from .kernel import profile
from .nodemask import packed as _packed
from .nodemask.packed import apply_map, as_words as _as_words, first as first_bit
from .nodemask.packed import relative_map, remap_map, unpack
from .nodemask.packed import to_nodes as to_node_array

__all__ = [
    "MODES", "MODE_NAMES", "FLAGS", "FLAG_NAMES",
    "MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES", "MPOL_F_NUMA_BALANCING",
    "ERRNOS", "PolicyBatch",
    "mode_value", "flag_bits", "flag_names", "mode_max", "mode_flags_mask",
    "create", "rebind", "rebind_steps", "report", "cut_reported",
    "policy_nodemask", "interleave_static", "interleave_dynamic",
    "weighted_interleave_static", "weighted_interleave_dynamic",
    "set_home_node", "interleave_weights", "auto_weights", "shm_interleave_index",
]

#: Intentional re-export, not in ``__all__``: packed masks are :mod:`numalab.nodemask.packed`;
#: ``mempolicy.from_nodes`` stays for callers written before the move (numalab.race, tests).
from_nodes = _packed.from_nodes

#: uapi mode values (include/uapi/linux/mempolicy.h).
MODES = {"DEFAULT": 0, "PREFERRED": 1, "BIND": 2, "INTERLEAVE": 3, "LOCAL": 4,
         "PREFERRED_MANY": 5, "WEIGHTED_INTERLEAVE": 6}
MODE_NAMES = {v: k for k, v in MODES.items()}
MPOL_F_STATIC_NODES = 1 << 15
MPOL_F_RELATIVE_NODES = 1 << 14
MPOL_F_NUMA_BALANCING = 1 << 13
#: uapi mode flags by name (also accepted: the CLI short names static/relative/numa_balancing).
FLAGS = {"STATIC_NODES": MPOL_F_STATIC_NODES, "RELATIVE_NODES": MPOL_F_RELATIVE_NODES,
         "NUMA_BALANCING": MPOL_F_NUMA_BALANCING}
FLAG_NAMES = {v: k for k, v in FLAGS.items()}
_FLAG_ALIASES = {"STATIC": "STATIC_NODES", "RELATIVE": "RELATIVE_NODES", "BALANCING": "NUMA_BALANCING"}
#: errno codes of a batch (index 0 = accepted).
ERRNOS = (None, "EINVAL")
_EINVAL = 1
_SF = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES
_INT_MAX = (1 << 31) - 1


# ---------------------------------------------------------------------------------------------
# names and version rules
def mode_value(mode) -> int:
    """uapi value of a mode name (``"bind"``, ``"MPOL_BIND"``) or of an int (returned as is).

    >>> mode_value("mpol_interleave"), mode_value(6)
    (3, 6)
    """
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
        if not 0 <= mode <= _INT_MAX:
            raise NumalabError(f"a mode value lies in 0..{_INT_MAX} (set_mempolicy takes an int)",
                               input=int(mode))
        return int(mode)
    if not isinstance(mode, str):
        raise NumalabError("a mode is a name such as 'bind' (or MODE_N)", input=repr(mode))
    name = mode.strip().upper().removeprefix("MPOL_")
    digits = name[5:]
    if name.startswith("MODE_") and digits.isascii() and digits.isdigit():
        if len(digits) > 10 or int(digits) > _INT_MAX:  # ASCII digits only: "MODE_٣" is not 3
            raise NumalabError(f"a mode value lies in 0..{_INT_MAX} (set_mempolicy takes an int)",
                               input=mode)
        return int(digits)
    if name not in MODES:
        raise NumalabError("unknown memory policy mode; known: " + ", ".join(m.lower() for m in MODES),
                           input=str(mode))
    return MODES[name]


def flag_bits(flags) -> int:
    """uapi bits of a list of flag names (``["static"]``, ``"RELATIVE_NODES"``) or of an int.

    >>> flag_bits(["static"]) == MPOL_F_STATIC_NODES, flag_bits([])
    (True, 0)
    """
    if flags is None:
        return 0
    if isinstance(flags, (int, np.integer)):
        return int(flags)
    if isinstance(flags, str):
        flags = [f for f in flags.replace("|", ",").split(",") if f.strip()]
    bits = 0
    for f in flags:
        name = str(f).strip().upper().removeprefix("MPOL_F_")
        name = _FLAG_ALIASES.get(name, name)
        if name not in FLAGS:
            raise NumalabError("unknown mode flag; known: static, relative, numa_balancing", input=str(f))
        bits |= FLAGS[name]
    return bits


def flag_names(bits: int) -> list:
    """Names of the uapi mode flags in ``bits`` (STATIC_NODES, RELATIVE_NODES, NUMA_BALANCING)."""
    return [FLAG_NAMES[b] for b in (MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING)
            if int(bits) & b]


def mode_max(kernel) -> int:
    """MPOL_MAX of a release: 5 (v4.10), 6 with PREFERRED_MANY (v5.15), 7 with WEIGHTED (v6.9)."""
    k = profile(kernel)
    return 5 + int(k.mode_preferred_many) + int(k.mode_weighted_interleave)


def mode_flags_mask(kernel) -> int:
    """MPOL_MODE_FLAGS: STATIC|RELATIVE, plus NUMA_BALANCING from v5.12."""
    return _SF | (MPOL_F_NUMA_BALANCING if profile(kernel).flag_numa_balancing else 0)


# ---------------------------------------------------------------------------------------------
# packed nodemasks live in numalab.nodemask.packed
def to_nodes(words, nbits: int | None = None) -> list:
    """Deprecated: node ids of one packed nodemask as a list.

    Kept so that callers written against the old ``numalab.mempolicy.to_nodes`` keep working;
    use :func:`numalab.nodemask.packed.to_nodes` (an array, like :func:`numalab.nodemask.to_nodes`).
    """
    return to_node_array(np.asarray(words, np.uint64).reshape(-1), nbits).tolist()


def _grouped(rows_words):
    """Group rows of packed words by value: yields (value (W,), row indices)."""
    rows_words = np.asarray(rows_words, np.uint64)
    if rows_words.shape[0] == 0:
        return
    if np.all(rows_words == rows_words[0]):
        yield rows_words[0], slice(None)
        return
    uniq, inv = np.unique(rows_words, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for g in range(uniq.shape[0]):
        yield uniq[g], np.flatnonzero(inv == g)


# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class PolicyBatch:
    """A batch of memory policies (one row each), as ``struct mempolicy`` holds them.

    Attributes
    ----------
    mode : (B,) int8
        uapi mode; ``DEFAULT`` (0) is the NULL policy (no policy at that scope).
    flags : (B,) uint16
        uapi mode flags (MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING).
    local : (B,) bool
        internal MPOL_F_LOCAL (v4.10..v5.13: LOCAL was PREFERRED with this flag).
    nodes : (B, W) uint64
        effective nodemask (PREFERRED: the single preferred node).
    w : (B, W) uint64
        the ``w`` union: ``user_nodemask`` when a mode flag is stored, else ``cpuset_mems_allowed``.
    errno : (B,) uint8
        index into :data:`ERRNOS` (0: accepted).
    nbits : int
        nodemask width (MAX_NUMNODES of the model).
    kernel : str
        kernel release label the batch was built with.
    home : (B,) int64 or None
        ``pol->home_node`` (v5.17+, set by :func:`set_home_node`); -1 (NUMA_NO_NODE) or None: unset.
    """

    mode: np.ndarray
    flags: np.ndarray
    local: np.ndarray
    nodes: np.ndarray
    w: np.ndarray
    errno: np.ndarray
    nbits: int
    kernel: str
    home: np.ndarray | None = None

    def __len__(self):
        return int(self.mode.shape[0])

    def errno_names(self) -> np.ndarray:
        """Errno name per row (None when accepted)."""
        return np.array(ERRNOS, dtype=object)[self.errno]

    def stores_user(self) -> np.ndarray:
        """``mpol_store_user_nodemask``: any of this release's MPOL_MODE_FLAGS set."""
        return (self.flags.astype(np.int64) & mode_flags_mask(self.kernel)) != 0

    def take(self, idx) -> "PolicyBatch":
        """Rows ``idx`` as a new batch."""
        return dataclasses.replace(self, mode=self.mode[idx], flags=self.flags[idx], local=self.local[idx],
                                   nodes=self.nodes[idx], w=self.w[idx], errno=self.errno[idx],
                                   home=None if self.home is None else self.home[idx])

    def home_nodes(self) -> np.ndarray:
        """``pol->home_node`` per row (-1: NUMA_NO_NODE)."""
        return np.full(len(self), -1, np.int64) if self.home is None else np.asarray(self.home, np.int64)

    def row(self, i: int) -> dict:
        """One policy as plain values (node lists by id)."""
        return {"mode": MODE_NAMES.get(int(self.mode[i]), int(self.mode[i])),
                "flags": flag_names(int(self.flags[i])), "local": bool(self.local[i]),
                "nodes": to_node_array(self.nodes[i], self.nbits).tolist(),
                "w": to_node_array(self.w[i], self.nbits).tolist(),
                "errno": ERRNOS[int(self.errno[i])], "home_node": int(self.home_nodes()[i])}


def create(mode, flags, user, allowed, kernel="current", *, n_memory=None, nbits=None,
           bad_mask=None, call="set_mempolicy") -> PolicyBatch:
    """set_mempolicy()/mbind() for a batch: validation, ``mpol_new`` and ``mpol_set_nodemask``.

    Rules (v6.1; version windows applied from ``kernel``):

    1. ``sanitize_mpol_flags``: mode >= MPOL_MAX, STATIC with RELATIVE, NUMA_BALANCING with a mode
       other than BIND (v5.12+; PREFERRED_MANY too from v6.10) -> EINVAL. Before v5.12 the
       NUMA_BALANCING bit is not a mode flag, so it makes the mode value too large -> EINVAL.
       v5.12..v5.14 only ``do_set_mempolicy`` checked the NUMA_BALANCING mode, so ``mbind()``
       accepted the flag with any mode (and stored it); from v5.15 both calls share
       ``sanitize_mpol_flags`` (6d2aec9e123b, "mm/mempolicy: do not allow illegal
       MPOL_F_NUMA_BALANCING | MPOL_LOCAL in mbind()").
    2. ``get_nodes``: a bit at MAX_NUMNODES or above -> EINVAL (``bad_mask``).
    3. ``mpol_new``: DEFAULT with nodes -> EINVAL (flags dropped with the NULL policy); PREFERRED
       with no nodes -> LOCAL (v5.14+; PREFERRED with MPOL_F_LOCAL before), EINVAL with
       STATIC/RELATIVE; LOCAL with nodes or STATIC/RELATIVE -> EINVAL; other modes with no nodes
       -> EINVAL.
    4. ``mpol_set_nodemask``: ``allowed = cpuset_current_mems_allowed & N_MEMORY``; the effective
       mask is ``fold+onto(user, allowed)`` for RELATIVE, else ``user & allowed``; empty -> EINVAL;
       PREFERRED keeps only the first node. ``w`` stores the raw user mask when any mode flag
       is set, else cpuset_current_mems_allowed (not intersected with N_MEMORY).

    Parameters
    ----------
    mode, flags : sequence (B,)
        Mode names or uapi values; flag bit sets (ints) or lists of names.
    user : (B, nbits) bool or (B, W) uint64
        The nodemask passed by the user (empty for a NULL pointer).
    allowed : (nbits,) / (B, nbits) bool or packed
        The task's ``mems_allowed`` (cpuset_current_mems_allowed).
    kernel : str
        Kernel release.
    n_memory : (nbits,) bool or packed, optional
        N_MEMORY; default: ``allowed`` is already restricted to nodes with memory.
    nbits : int, optional
        Nodemask width (default: from ``user``).
    bad_mask : (B,) bool, optional
        Rows whose user mask had bits at or beyond MAX_NUMNODES (get_nodes refuses them).
    call : {"set_mempolicy", "mbind"}
        The system call (task policy or VMA/shared policy); they validate alike except for
        NUMA_BALANCING in v5.12..v5.14.

    Returns
    -------
    PolicyBatch

    Examples
    --------
    >>> b = create(["preferred", "bind", "local"], [0, MPOL_F_STATIC_NODES, 0],
    ...            from_nodes([[0, 1], [2], []], 64), from_nodes([1], 64), "6.1")
    >>> b.errno_names().tolist(), [to_node_array(r).tolist() for r in b.nodes]
    ([None, 'EINVAL', None], [[1], [], []])
    """
    k = profile(kernel)
    if call not in ("set_mempolicy", "mbind"):
        raise NumalabError("call must be set_mempolicy or mbind", input=str(call))
    modes = np.array([mode_value(m) for m in mode] if not isinstance(mode, np.ndarray) else mode, np.int64)
    B = modes.shape[0]
    fl = (np.array([flag_bits(f) for f in flags], np.int64) if not isinstance(flags, np.ndarray)
          else flags.astype(np.int64))
    fl = np.broadcast_to(fl, (B,))
    ua = np.asarray(user)
    if nbits is None:
        nbits = ua.shape[-1] if ua.dtype == bool else ua.shape[-1] * 64
    uw = _as_words(user, nbits, B)
    aw = _as_words(allowed, nbits, B)
    mask1 = aw if n_memory is None else aw & _as_words(n_memory, nbits)[None, :]
    err = np.zeros(B, np.uint8)
    flagmask = mode_flags_mask(k)

    # 1. sanitize_mpol_flags
    raw_mode = modes | (fl & ~flagmask)          # bits that are not mode flags stay in the mode
    fl = fl & flagmask
    err[raw_mode >= mode_max(k)] = _EINVAL
    err[(fl & _SF) == _SF] = _EINVAL
    nb = (fl & MPOL_F_NUMA_BALANCING) != 0
    nb_ok = modes == MODES["BIND"]
    if k.numa_balancing_preferred_many:
        nb_ok |= modes == MODES["PREFERRED_MANY"]
    if call == "mbind" and not k.numa_balancing_mbind_checked:
        nb_ok[:] = True                          # v5.12..v5.14: kernel_mbind did not check it
    err[nb & ~nb_ok] = _EINVAL
    # 2. get_nodes
    if bad_mask is not None:
        err[np.asarray(bad_mask, bool)] = _EINVAL
    # 3. mpol_new
    empty = ~(uw != 0).any(axis=-1)
    sr = (fl & _SF) != 0
    is_ = {m: modes == v for m, v in MODES.items()}
    err[is_["DEFAULT"] & ~empty] = _EINVAL
    err[is_["PREFERRED"] & empty & sr] = _EINVAL
    err[is_["LOCAL"] & (~empty | sr)] = _EINVAL
    others = ~(is_["DEFAULT"] | is_["PREFERRED"] | is_["LOCAL"])
    err[others & empty] = _EINVAL
    local_req = is_["LOCAL"] | (is_["PREFERRED"] & empty)
    out_mode = modes.copy()
    local_flag = np.zeros(B, bool)
    if k.local_is_mode:
        out_mode[local_req] = MODES["LOCAL"]
    else:
        out_mode[local_req] = MODES["PREFERRED"]
        local_flag[local_req] = True
    null = is_["DEFAULT"]
    out_mode[null] = MODES["DEFAULT"]
    fl = np.where(null, 0, fl)
    # 4. mpol_set_nodemask (skipped for NULL and local policies)
    ctx = ~(null | local_req) & (err == 0)
    mask2 = uw & mask1
    rel = ctx & ((fl & MPOL_F_RELATIVE_NODES) != 0)
    if rel.any():
        ridx = np.flatnonzero(rel)
        for val, sub in _grouped(mask1[ridx]):
            rows = ridx[sub]
            mask2[rows] = apply_map(uw[rows], relative_map(val, nbits), nbits)
    store_user = (fl & flagmask) != 0
    wv = np.where(store_user[:, None], uw, aw)
    eff_empty = ~(mask2 != 0).any(axis=-1)
    err[ctx & eff_empty] = _EINVAL
    nodes = np.where(ctx[:, None], mask2, np.uint64(0))
    pref = ctx & is_["PREFERRED"]
    if pref.any():
        fb = first_bit(mask2[pref])
        one = np.zeros((int(pref.sum()), uw.shape[-1]), np.uint64)
        okr = fb < nbits
        one[np.flatnonzero(okr), fb[okr] // 64] = np.left_shift(np.uint64(1), (fb[okr] % 64).astype(np.uint64))
        nodes[pref] = one
    wv = np.where((ctx & (err == 0))[:, None], wv, np.uint64(0))
    bad = err != 0
    out_mode[bad] = MODES["DEFAULT"]
    fl = np.where(bad, 0, fl)
    nodes[bad] = 0
    local_flag[bad] = False
    return PolicyBatch(mode=out_mode.astype(np.int8), flags=fl.astype(np.uint16), local=local_flag,
                       nodes=nodes, w=wv, errno=err, nbits=int(nbits), kernel=k.label)


def _rebind_nodemask(pol, new, k, rows, step):
    """mpol_rebind_nodemask on ``rows`` (BIND, INTERLEAVE, WEIGHTED_INTERLEAVE)."""
    nbits = pol.nbits
    nodes, w = pol.nodes, pol.w
    fl = pol.flags[rows].astype(np.int64)
    static = (fl & MPOL_F_STATIC_NODES) != 0
    relative = (fl & MPOL_F_RELATIVE_NODES) != 0
    plain = ~(static | relative)
    tmp = np.empty((rows.size, nodes.shape[-1]), np.uint64)
    if static.any():
        tmp[static] = w[rows[static]] & new
    if relative.any():
        tmp[relative] = apply_map(w[rows[relative]], relative_map(new, nbits), nbits)
    if plain.any():
        prow = rows[plain]
        res = np.empty((prow.size, nodes.shape[-1]), np.uint64)
        if step == "step2":
            res[:] = w[prow]                                   # the cached STEP1 result
        else:
            for old, sub in _grouped(w[prow]):
                res[sub] = apply_map(nodes[prow[sub]], remap_map(old, new, nbits), nbits)
        tmp[plain] = res
        if step == "step1" or (step == "once" and k.rebind_stores_result):
            w[prow] = res                                      # cache / the v4.13..v5.1 bug
        else:
            w[prow] = new
    empty = ~(tmp != 0).any(axis=-1)
    tmp[empty] = new
    if step == "step1":
        nodes[rows] = nodes[rows] | tmp                         # transient union (v4.10)
    else:
        nodes[rows] = tmp


def _rebind_preferred(pol, new, k, rows):
    """mpol_rebind_preferred on ``rows``: v5.14+ records the new mems only; before, remaps."""
    if k.preferred_not_remapped:
        pol.w[rows] = new
        return
    nbits = pol.nbits
    fl = pol.flags[rows].astype(np.int64)
    static = (fl & MPOL_F_STATIC_NODES) != 0
    relative = (fl & MPOL_F_RELATIVE_NODES) != 0
    W = pol.nodes.shape[-1]
    newb = unpack(new, nbits)
    st = rows[static]
    if st.size:
        f = first_bit(pol.w[st])
        ok = (f < nbits) & newb[np.minimum(f, nbits - 1)]
        pol.nodes[st[ok]] = _onehot(f[ok], W)
        pol.local[st[ok]] = False
        pol.local[st[~ok]] = True
    rl = rows[relative]
    if rl.size:
        t = apply_map(pol.w[rl], relative_map(new, nbits), nbits)
        pol.nodes[rl] = _onehot(first_bit(t), W)
    pl = rows[~(static | relative) & ~pol.local[rows]]
    if pl.size:
        p = first_bit(pol.nodes[pl])
        d = p.copy()
        for old, sub in _grouped(pol.w[pl]):
            dest = remap_map(old, new, nbits)
            ps = p[sub]
            d[sub] = np.where(ps < nbits, dest[np.minimum(ps, nbits - 1)], ps)
        pol.nodes[pl] = _onehot(d, W)
        pol.w[pl] = new


def _onehot(pos, W):
    """Packed single-node masks for positions ``pos`` (positions >= W*64 give empty masks)."""
    pos = np.asarray(pos, np.int64)
    out = np.zeros((pos.size, W), np.uint64)
    ok = pos < W * 64
    out[np.flatnonzero(ok), pos[ok] // 64] = np.left_shift(np.uint64(1), (pos[ok] % 64).astype(np.uint64))
    return out


def rebind(pol: PolicyBatch, new, kernel=None, *, step: str = "once") -> PolicyBatch:
    """``mpol_rebind_policy`` of every policy for one cpuset change to ``new`` mems.

    Per release: NULL policies and (v5.14+) LOCAL are untouched; a policy without a stored user
    mask whose ``w.cpuset_mems_allowed`` already equals ``new`` is skipped. BIND/INTERLEAVE/
    WEIGHTED_INTERLEAVE: STATIC -> ``user & new``; RELATIVE -> fold+onto(user, new); no flag ->
    ``nodes_remap(nodes, w, new)`` and ``w = new`` (v4.13..v5.1: ``w`` = the remapped result, a
    bug); an empty result widens to ``new``. PREFERRED/PREFERRED_MANY (v5.14+): only ``w = new``,
    nodes kept. v4.10..v5.13 PREFERRED: STATIC keeps the user's first node if allowed else turns
    local; RELATIVE takes the first node of fold+onto; no flag remaps the preferred node.

    Parameters
    ----------
    pol : PolicyBatch
    new : (nbits,) bool or (W,) uint64
        The new mems (task: ``guarantee_online_mems``; VMA: the cpuset's configured mems).
    kernel : str, optional
        Release (default: the batch's).
    step : {"once", "step1", "step2"}
        v4.10 task rebinding runs ``step1`` (union of old and new nodes) then ``step2``.

    Returns
    -------
    PolicyBatch
        A new batch (the input is not modified).
    """
    k = profile(kernel or pol.kernel)
    if step != "once" and not k.rebind_two_step:
        raise NumalabError(f"kernel {k.label} rebinds in one step (two steps only before v4.13)", input=step)
    nbits = pol.nbits
    new = _as_words(new, nbits).reshape(-1)
    out = dataclasses.replace(pol, nodes=pol.nodes.copy(), w=pol.w.copy(), local=pol.local.copy(),
                              kernel=k.label)
    mode = pol.mode
    active = (pol.errno == 0) & (mode != MODES["DEFAULT"])
    if k.local_is_mode:
        active &= mode != MODES["LOCAL"]
    store = pol.stores_user()
    same = np.all(pol.w == new[None, :], axis=-1)
    skip = ~store & same
    if not k.local_is_mode:
        skip &= ~pol.local
    if step != "once":
        skip[:] = False                      # the v4.10 equality shortcut is for ONCE only
    active &= ~skip
    nm = active & np.isin(mode, [MODES["BIND"], MODES["INTERLEAVE"], MODES["WEIGHTED_INTERLEAVE"]])
    pr = active & np.isin(mode, [MODES["PREFERRED"], MODES["PREFERRED_MANY"]])
    if nm.any():
        _rebind_nodemask(out, new, k, np.flatnonzero(nm), step)
    if pr.any():
        _rebind_preferred(out, new, k, np.flatnonzero(pr))
    return out


def rebind_steps(pol: PolicyBatch, new, kernel=None, *, scope: str = "task"):
    """The states a policy goes through on one cpuset change: ``[(label, batch), ...]``.

    v4.10 task policies: ``("step1", transient union)`` then ``("final", ...)``; everything
    else (VMA policies, v4.13+): ``[("final", ...)]``. Shared (shm) policies are never rebound.
    """
    k = profile(kernel or pol.kernel)
    if scope == "shm":
        return [("final", pol)]
    if scope == "task" and k.rebind_two_step:
        s1 = rebind(pol, new, k, step="step1")
        return [("step1", s1), ("final", rebind(s1, new, k, step="step2"))]
    return [("final", rebind(pol, new, k))]


def cut_reported(words, nr_node_ids: int) -> np.ndarray:
    """get_mempolicy copies BITS_TO_LONGS(nr_node_ids) longs: bits beyond are cleared."""
    words = np.array(words, np.uint64, copy=True)
    keep = max(1, -(-int(nr_node_ids) // 64))
    words[..., keep:] = 0
    return words


def report(pol: PolicyBatch, nr_node_ids: int | None = None):
    """What get_mempolicy(flags=0) returns for each policy: ``(mode, flags, nodemask words)``.

    Mode: DEFAULT for a NULL policy, else the mode (v4.10..v5.13: a local policy reports
    PREFERRED with an empty mask). Nodemask: the stored user mask when a mode flag is set
    (STATIC, RELATIVE, or NUMA_BALANCING), else the effective nodes. Copy-out keeps whole
    longs of nr_node_ids bits (64-bit words), so bit 1023 of a 1024-bit user mask is cut.
    """
    store = pol.stores_user()
    mask = np.where(store[:, None], pol.w, pol.nodes)
    mask = np.where((pol.local & ~store)[:, None], np.uint64(0), mask)
    if nr_node_ids is not None:
        mask = cut_reported(mask, nr_node_ids)
    return pol.mode.astype(np.int64), pol.flags.astype(np.int64), mask


def policy_nodemask(pol: PolicyBatch, mems_allowed, *, gfp_zone: int, policy_zone: int,
                    zone_movable: int, high_memory=None):
    """``policy_nodemask``/``policy_node``: the nodemask and start node given to the allocator.

    Returns ``(use_mask (B,) bool, mask (B, W), start (B,) int)`` where ``start`` is a node id or
    -1 for "the local node", and ``use_mask`` says whether a nodemask is passed:

    * BIND and PREFERRED_MANY with a home node (v5.17+, :func:`set_home_node`): start at the
      home node's zonelist instead of the local node's (``policy_node``).
    * BIND: its nodes, only if ``apply_policy_zone`` (the request's highest zone is at least
      policy_zone, or ZONE_MOVABLE when the nodes have no N_HIGH_MEMORY) and the nodes
      intersect ``mems_allowed``; otherwise no nodemask (BIND is ignored, the cpuset rules).
    * PREFERRED_MANY: its nodes (first pass; :mod:`numalab.alloc` adds the fallback pass).
    * PREFERRED: no nodemask, start at its node (local with MPOL_F_LOCAL, before v5.14).
    * LOCAL/DEFAULT: no nodemask, local node. INTERLEAVE: no nodemask; the start node comes
      from :func:`interleave_static` / :func:`interleave_dynamic`.
    """
    nbits = pol.nbits
    B = len(pol)
    ma = _as_words(mems_allowed, nbits, B)
    mode = pol.mode
    start = np.full(B, -1, np.int64)
    use = np.zeros(B, bool)
    mask = np.zeros_like(pol.nodes)
    bind = mode == MODES["BIND"]
    if bind.any():
        dyn = np.full(B, policy_zone)
        if high_memory is not None:
            hm = _as_words(high_memory, nbits).reshape(-1)
            no_high = ~((pol.nodes & hm[None, :]) != 0).any(axis=-1)
            dyn = np.where(no_high, zone_movable, dyn)
        apply_zone = gfp_zone >= dyn
        inter = ((pol.nodes & ma) != 0).any(axis=-1)
        ub = bind & apply_zone & inter
        use |= ub
        mask[ub] = pol.nodes[ub]
    pm = mode == MODES["PREFERRED_MANY"]
    use |= pm
    mask[pm] = pol.nodes[pm]
    pref = (mode == MODES["PREFERRED"]) & ~pol.local
    if pref.any():
        start[pref] = first_bit(pol.nodes[pref])
    home = pol.home_nodes()
    hn = (bind | pm) & (home >= 0)
    start[hn] = home[hn]
    return use, mask, start


# ---------------------------------------------------------------------------------------------
# interleave
def interleave_static(nodes_words, ilx, nbits: int) -> np.ndarray:
    """``offset_il_node``: the ``(ilx mod weight)``-th set bit of each policy's nodes.

    ``nodes_words`` (B, W), ``ilx`` (B, P) page indices -> (B, P) node ids (-1 for empty nodes,
    where the kernel takes the local node).

    >>> interleave_static(from_nodes([[0, 2, 5]], 64), np.arange(6)[None], 64).tolist()
    [[0, 2, 5, 0, 2, 5]]
    """
    m = unpack(np.atleast_2d(nodes_words), nbits)
    ilx = np.atleast_2d(np.asarray(ilx, np.int64))
    wt = m.sum(axis=-1)
    # positions of set bits, left-aligned per row
    order = np.argsort(~m, axis=-1, kind="stable")
    k = np.where(wt[:, None] > 0, ilx % np.maximum(wt, 1)[:, None], 0)
    out = np.take_along_axis(order, k, axis=-1)
    return np.where(wt[:, None] > 0, out, -1)


def interleave_dynamic(nodes_words, il_prev, count: int, nbits: int):
    """``interleave_nodes``: ``next_node_in(il_prev, nodes)`` repeated ``count`` times.

    Returns ``(nodes (B, count), new il_prev (B,))``; ``il_prev`` starts at MAX_NUMNODES-1 after
    set_mempolicy, so the first node is the lowest one.

    >>> interleave_dynamic(from_nodes([[1, 3]], 64), np.array([63]), 5, 64)[0].tolist()
    [[1, 3, 1, 3, 1]]
    """
    m = unpack(np.atleast_2d(nodes_words), nbits)
    il_prev = np.asarray(il_prev, np.int64).reshape(-1)
    wt = m.sum(axis=-1)
    order = np.argsort(~m, axis=-1, kind="stable")
    # ordinal of the first set bit after il_prev (wrapping)
    after = np.cumsum(m, axis=-1)                                  # count of set bits <= b
    idx = np.clip(il_prev, -1, nbits - 1)
    base = np.where(idx >= 0, np.take_along_axis(after, np.maximum(idx, 0)[:, None], -1)[:, 0], 0)
    base = np.where(wt > 0, base % np.maximum(wt, 1), 0)
    ks = (base[:, None] + np.arange(count)[None, :]) % np.maximum(wt, 1)[:, None]
    out = np.where(wt[:, None] > 0, np.take_along_axis(order, ks, axis=-1), -1)
    last = np.where(wt > 0, out[:, -1] if count else il_prev, il_prev)
    return out, last


def weighted_interleave_static(nodes_words, ilx, weights, nbits: int) -> np.ndarray:
    """``weighted_interleave_nid``: ``ilx mod (sum of weights)`` walked over the nodes in order.

    ``weights`` (nbits,) per node id (u8; 0 or missing means 1 before v6.16's auto mode).

    >>> w = np.ones(64, int); w[0] = 5; w[1] = 2
    >>> weighted_interleave_static(from_nodes([[0, 1]], 64), np.arange(8)[None], w, 64).tolist()
    [[0, 0, 0, 0, 0, 1, 1, 0]]
    """
    m = unpack(np.atleast_2d(nodes_words), nbits)
    ilx = np.atleast_2d(np.asarray(ilx, np.int64))
    wts = np.asarray(weights, np.int64)
    wts = np.where(wts > 0, wts, 1)
    per = np.where(m, wts[None, :nbits], 0)                       # (B, nbits)
    cum = np.cumsum(per, axis=-1)
    tot = cum[:, -1]
    t = np.where(tot[:, None] > 0, ilx % np.maximum(tot, 1)[:, None], 0)
    # first node whose cumulative weight exceeds t
    out = np.empty_like(t)
    for b in range(m.shape[0]):                    # searchsorted per row (rows are independent)
        out[b] = np.searchsorted(cum[b], t[b], side="right")
    return np.where(tot[:, None] > 0, out, -1)


def weighted_interleave_dynamic(nodes_words, il_prev, il_weight, count: int, weights, nbits: int):
    """``weighted_interleave_nodes``: stay on ``il_prev`` while weight remains, then move on.

    A sequential rule (each page changes the state), so it loops over pages; vectorized over
    policies. Returns ``(nodes (B, count), il_prev, il_weight)``.
    """
    m = unpack(np.atleast_2d(nodes_words), nbits)
    il_prev = np.asarray(il_prev, np.int64).reshape(-1).copy()
    il_w = np.asarray(il_weight, np.int64).reshape(-1).copy()
    wts = np.asarray(weights, np.int64)
    wts = np.where(wts > 0, wts, 1)
    B = m.shape[0]
    out = np.full((B, count), -1, np.int64)
    has = m.any(axis=-1)
    # next set bit strictly after position p (wrapping): precompute a table (B, nbits+1)
    nxt = np.full((B, nbits + 1), -1, np.int64)
    cur = np.full(B, -1, np.int64)
    for p in range(nbits - 1, -1, -1):             # suffix scan over node positions
        nxt[:, p + 1] = cur
        cur = np.where(m[:, p], p, cur)
    nxt[:, 0] = cur
    first = cur
    rows = np.arange(B)
    for i in range(count):                          # sequential: each page updates the state
        prev_in = (il_prev >= 0) & (il_prev < nbits) & m[rows, np.clip(il_prev, 0, nbits - 1)]
        move = (il_w == 0) | ~prev_in
        cand = nxt[rows, np.clip(il_prev + 1, 0, nbits)]
        cand = np.where(cand < 0, first, cand)
        il_prev = np.where(move & has, cand, il_prev)
        il_w = np.where(move & has, wts[np.clip(il_prev, 0, nbits - 1)], il_w)
        il_w = np.where(has, il_w - 1, il_w)
        out[:, i] = np.where(has, il_prev, -1)
    return out, il_prev, il_w


# ---------------------------------------------------------------------------------------------
# set_mempolicy_home_node (v5.17+)
def set_home_node(pol: PolicyBatch, home_node: int, kernel=None, *, online=None, scope: str = "vma"):
    """``set_mempolicy_home_node(start, len, home_node, 0)`` on the mapping of each policy.

    The syscall exists from v5.17 (``ENOSYS`` before). It refuses a home node at or beyond
    MAX_NUMNODES or not online (``EINVAL``, checked first), then walks the VMAs of the range: a
    VMA without a policy is skipped, one whose policy is not BIND or PREFERRED_MANY stops the walk
    with ``EOPNOTSUPP``; the others get a copy of their policy with ``home_node`` set. If every VMA
    was skipped the call returns ``ENOENT``: so it is for a task policy (``scope="task"``: the
    mapping itself has no VMA policy) and for a policy that mbind() refused. Allocations of a BIND
    or PREFERRED_MANY policy with a home node start at the home node's zonelist
    (``policy_node``, mm/mempolicy.c; added by c6018b4b2549, "mm/mempolicy: add
    set_mempolicy_home_node syscall", v5.17). Rebinding keeps the home node.

    Parameters
    ----------
    pol : PolicyBatch
        One policy per row (the VMA policy of one mapping each).
    home_node : int
    kernel : str, optional
        Release (default: the batch's).
    online : (nbits,) bool, optional
        N_ONLINE (default: every node id below ``pol.nbits`` counts as online).
    scope : {"vma", "shm", "task"}

    Returns
    -------
    (PolicyBatch, errno) : the batch with ``home`` set where the call succeeded, and the errno
    name per row (None: success).

    Examples
    --------
    >>> b = create(["bind", "interleave"], [0, 0], from_nodes([[0, 1], [0, 1]], 64), from_nodes([0, 1], 64), "6.1")
    >>> b2, err = set_home_node(b, 1, "6.1")
    >>> err.tolist(), b2.home_nodes().tolist()
    ([None, 'EOPNOTSUPP'], [1, -1])
    >>> set_home_node(b, 1, "5.16")[1].tolist()
    ['ENOSYS', 'ENOSYS']
    """
    k = profile(kernel or pol.kernel)
    B = len(pol)
    err = np.full(B, None, dtype=object)
    home = pol.home_nodes().copy()
    h = int(home_node)
    if not k.home_node:
        err[:] = "ENOSYS"
        return pol, err
    bad_node = h < 0 or h >= pol.nbits or (online is not None and not np.asarray(online, bool)[h])
    if bad_node:
        err[:] = "EINVAL"
        return pol, err
    no_policy = (pol.errno != 0) | (pol.mode == MODES["DEFAULT"])
    if scope == "task":
        no_policy[:] = True
    ok_mode = np.isin(pol.mode, [MODES["BIND"], MODES["PREFERRED_MANY"]])
    err[no_policy] = "ENOENT"
    err[~no_policy & ~ok_mode] = "EOPNOTSUPP"
    setp = ~no_policy & ok_mode
    home[setp] = h
    return dataclasses.replace(pol, home=home), err


# ---------------------------------------------------------------------------------------------
# weighted interleave weights (/sys/kernel/mm/mempolicy/weighted_interleave/)
def auto_weights(bandwidth, n_memory) -> np.ndarray:
    """v6.16 auto mode: weights from each memory node's bandwidth (``reduce_interleave_weights``).

    ``bandwidth`` (nbits,) is min(read, write) bandwidth per node as firmware reports it (HMAT /
    CXL access coordinates; 0 = none reported). Over the N_MEMORY nodes: weight =
    floor(32 * bw / sum(bw)), or 1 when that is below 1 or bw is 0; then every weight is divided
    by the weights' greatest common divisor. Other nodes get 1. (Joshua Hahn's "mm/mempolicy:
    Weighted Interleave Auto-tuning", v6.16; ``32 * bw`` is computed in 32 bits as there.)

    >>> bw = np.zeros(4, np.int64); bw[:2] = [300, 100]
    >>> auto_weights(bw, np.array([1, 1, 0, 0], bool)).tolist()
    [3, 1, 1, 1]
    """
    bw = np.asarray(bandwidth, np.int64)
    mem = np.asarray(n_memory, bool)
    total = int(bw[mem].sum())
    scaled = (32 * bw) & 0xFFFFFFFF                 # the kernel's scaling_factor is an unsigned int
    w = np.where((bw > 0) & (total < scaled), scaled // max(total, 1), 1)
    out = np.ones(bw.shape, np.int64)
    if mem.any():
        g = int(np.gcd.reduce(w[mem]))
        out[mem] = w[mem] // max(g, 1)
    return out


def interleave_weights(kernel, nbits: int, n_memory, *, written=None, bandwidth=None):
    """The weights MPOL_WEIGHTED_INTERLEAVE uses, and how they were chosen.

    Parameters
    ----------
    kernel : str
    nbits : int
    n_memory : (nbits,) bool
        N_MEMORY.
    written : dict {node id: int}, optional
        Values written to ``weighted_interleave/nodeN`` (in order).
    bandwidth : dict {node id: int}, optional
        Bandwidth per node reported by firmware (min of read and write, any unit).

    Returns
    -------
    (weights (nbits,) int64, source str)
        ``source``: ``"default"`` (all 1), ``"written"`` (v6.9..v6.15, or v6.16 manual mode),
        ``"auto"`` (v6.16+, from bandwidth).

    Rules: v6.9..v6.15 (Gregory Price's weighted interleave): every node starts at 1, writing 0
    (or nothing) means "the default, 1", values above 255 are EINVAL (kstrtou8); bandwidth is
    not used. v6.16+ (Joshua Hahn's auto-tuning, ``weighted_interleave_auto``): without writes the
    weights come from the bandwidth (:func:`auto_weights`; no bandwidth data: all 1); writing a node
    switches to manual mode, keeping the other nodes' current values; writing 0 is EINVAL.
    Before v6.9 there are no weights (the sysfs directory does not exist: ENOENT on a write).

    Examples
    --------
    >>> mem = np.array([True, True, False, False])
    >>> interleave_weights("6.15", 4, mem, bandwidth={0: 300, 1: 100})[0].tolist()
    [1, 1, 1, 1]
    >>> w, src = interleave_weights("6.16", 4, mem, bandwidth={0: 300, 1: 100}); w.tolist(), src
    ([3, 1, 1, 1], 'auto')
    """
    k = profile(kernel)
    mem = np.asarray(n_memory, bool)
    written = dict(written or {})
    bandwidth = dict(bandwidth or {})
    w = np.ones(nbits, np.int64)
    if not k.mode_weighted_interleave:
        if written:
            raise NumalabError(f"kernel {k.label} has no /sys/kernel/mm/mempolicy/weighted_interleave "
                               "(weighted interleave arrived in 6.9)", errno="ENOENT", input="weights")
        return w, "default"
    for nid, val in list(written.items()) + list(bandwidth.items()):
        if not isinstance(nid, (int, np.integer)) or not 0 <= int(nid) < nbits:
            raise NumalabError(f"node {nid} is outside 0..{nbits - 1}", input="weights/bandwidth")
    for nid, val in bandwidth.items():
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or not 0 <= int(val) < 1 << 32:
            raise NumalabError(f"bandwidth of node {nid} must be an integer in 0..2**32-1", input=str(val))
    for nid, val in written.items():
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or not 0 <= int(val) <= 255:
            raise NumalabError(f"weight of node {nid} must be an integer in 0..255 (a u8)", errno="EINVAL",
                               input=str(val))
        if int(val) == 0 and k.weighted_interleave_auto:
            raise NumalabError(f"writing 0 to weighted_interleave/node{nid} is refused from 6.16 "
                               "(before, 0 meant the default weight 1)", errno="EINVAL", input=str(val))
    if k.weighted_interleave_auto and bandwidth:
        bw = np.zeros(nbits, np.int64)
        for nid, val in bandwidth.items():
            bw[int(nid)] = int(val)
        w = auto_weights(bw, mem)
        source = "auto"
    else:
        source = "default"
    for nid, val in written.items():
        w[int(nid)] = int(val) if int(val) > 0 else 1
        source = "written"
    return w, source


# ---------------------------------------------------------------------------------------------
def shm_interleave_index(page_index, inode: int, order: int = 0, kernel="current"):
    """Interleave index of a shmem/tmpfs page: biased by the file's inode number.

    shmem adds the inode number ``i_ino`` to the page index ("bias interleave by inode number to
    distribute better across nodes", mm/shmem.c), so the first page of a shared segment lands on
    the ``(i_ino mod weight)``-th node of the mask, not the first. ``i_ino`` of a fresh segment
    comes from ``get_next_ino()`` (a per-CPU counter shared by every pseudo-filesystem): it is not
    predictable from outside. For a page of ``order`` > 0 (shmem THP): v6.7+ (Hugh Dickins'
    mempolicy rework, ``shmem_get_pgoff_policy``) uses ``i_ino + (index >> order)``; before, the
    pseudo-VMA had ``vm_pgoff = i_ino + index`` and the index was ``(i_ino + index) >> order``.

    >>> shm_interleave_index(np.arange(3), inode=5).tolist()
    [5, 6, 7]
    >>> int(shm_interleave_index(512, 1000, 9, "6.6")), int(shm_interleave_index(512, 1000, 9, "6.7"))
    (2, 1001)
    """
    idx = np.asarray(page_index, np.int64)
    ino = int(inode)
    if ino < 0:
        raise NumalabError("an inode number cannot be negative", input=ino)
    order = int(order)
    if not 0 <= order <= 20:
        raise NumalabError("page order must lie in 0..20", input=order)
    if profile(kernel).shmem_ilx_rework:
        return ino + (idx >> order)
    return (ino + idx) >> order
