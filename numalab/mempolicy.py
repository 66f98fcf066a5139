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
  policy, the v4.13..v5.2 stored-result bug, v5.14+ PREFERRED kept, empty results widened to the
  new mems);
* :func:`report` is what get_mempolicy() returns;
* :func:`policy_nodemask` is the nodemask and start node handed to the allocator, and
  :func:`interleave_static` / :func:`interleave_dynamic` choose interleave nodes.

Examples
--------
>>> import numpy as np
>>> from numalab.mempolicy import create, rebind, report, from_nodes, to_nodes
>>> user = from_nodes([[1, 3]], 64)                 # the user's nodemask {1,3}
>>> allowed = from_nodes([0, 1, 2, 3], 64)          # the task's cpuset mems 0-3
>>> pol = create(["BIND"], [0], user, allowed, "6.1")
>>> pol.errno_names().tolist(), to_nodes(pol.nodes[0])
([None], [1, 3])
>>> pol2 = rebind(pol, from_nodes([0, 1], 64), "6.1")   # cpuset.mems 0-3 -> 0-1
>>> to_nodes(pol2.nodes[0])                               # {1,3} remapped onto {0,1}
[1]
>>> mode, flags, mask = report(pol2, nr_node_ids=4)
>>> MODE_NAMES[int(mode[0])], to_nodes(mask[0])
('BIND', [1])
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import NumalabError
from .kernel import profile

__all__ = [
    "MODES", "MODE_NAMES", "FLAGS", "FLAG_NAMES",
    "MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES", "MPOL_F_NUMA_BALANCING",
    "ERRNOS", "PolicyBatch",
    "mode_value", "flag_bits", "flag_names", "mode_max", "mode_flags_mask",
    "pack", "unpack", "from_nodes", "to_nodes", "weight", "first_bit", "words_for",
    "relative_map", "remap_map", "apply_map",
    "create", "rebind", "rebind_steps", "report", "cut_reported",
    "policy_nodemask", "interleave_static", "interleave_dynamic",
    "weighted_interleave_static", "weighted_interleave_dynamic",
]

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
# packed nodemasks
def words_for(nbits: int) -> int:
    """Number of 64-bit words holding ``nbits`` node bits."""
    return max(1, -(-int(nbits) // 64))


def pack(mask) -> np.ndarray:
    """Pack a bool nodemask ``(..., nbits)`` into ``(..., W)`` uint64 words (bit b -> word b//64).

    >>> pack(np.array([1, 0, 1, 1], bool)).tolist()
    [13]
    """
    mask = np.asarray(mask, bool)
    nbits = mask.shape[-1]
    W = words_for(nbits)
    if nbits != W * 64:
        pad = np.zeros(mask.shape[:-1] + (W * 64 - nbits,), bool)
        mask = np.concatenate([mask, pad], axis=-1)
    b = np.packbits(mask, axis=-1, bitorder="little")
    return np.ascontiguousarray(b).view("<u8").astype(np.uint64, copy=False)


def unpack(words, nbits: int) -> np.ndarray:
    """Unpack ``(..., W)`` uint64 words into a bool nodemask ``(..., nbits)``."""
    words = np.ascontiguousarray(np.asarray(words, np.uint64)).astype("<u8", copy=False)
    b = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
    return b[..., :nbits].astype(bool)


def from_nodes(ids, nbits: int) -> np.ndarray:
    """Packed nodemask(s) from node ids: a list gives ``(W,)``, a list of lists ``(B, W)``."""
    ids = list(ids)
    if ids and isinstance(ids[0], (list, tuple, np.ndarray)):
        return np.stack([from_nodes(row, nbits) for row in ids])
    m = np.zeros(nbits, bool)
    for i in ids:
        if not 0 <= int(i) < nbits:
            raise NumalabError(f"node {i} is outside the {nbits}-bit nodemask", input=i)
        m[int(i)] = True
    return pack(m)


def to_nodes(words, nbits: int | None = None) -> list:
    """Node ids set in one packed nodemask ``(W,)``."""
    words = np.asarray(words, np.uint64).reshape(-1)
    return np.flatnonzero(unpack(words, nbits or words.size * 64)).tolist()


def weight(words) -> np.ndarray:
    """nodes_weight over the last axis of packed words."""
    return np.bitwise_count(np.asarray(words, np.uint64)).sum(axis=-1, dtype=np.int64)


def first_bit(words) -> np.ndarray:
    """first_node(): lowest set bit of each packed nodemask, or ``W*64`` (MAX_NUMNODES) if empty."""
    words = np.asarray(words, np.uint64)
    W = words.shape[-1]
    nz = words != 0
    widx = np.where(nz.any(axis=-1), nz.argmax(axis=-1), W)
    w = np.take_along_axis(words, np.minimum(widx, W - 1)[..., None], axis=-1)[..., 0]
    low = w & (~w + np.uint64(1))                        # isolate the lowest set bit
    pos = np.bitwise_count(low - np.uint64(1)).astype(np.int64)
    return np.where(widx < W, widx * 64 + pos, W * 64)


def _nth(mask_bool_row: np.ndarray) -> np.ndarray:
    """Positions of the set bits of one bool nodemask (``bitmap_ord_to_pos`` for every ordinal)."""
    return np.flatnonzero(mask_bool_row)


def relative_map(rel_words, nbits: int) -> np.ndarray:
    """Destination of every source bit under ``mpol_relative_nodemask(., user, rel)``.

    The kernel folds the user mask modulo ``weight(rel)`` (bitmap_fold) and maps the folded bits
    onto the set bits of ``rel`` (bitmap_onto): bit ``b`` goes to the ``(b mod weight)``-th set
    bit of ``rel``. An empty ``rel`` is a division by zero in the kernel: refused here.
    """
    pos = _nth(unpack(rel_words, nbits))
    if pos.size == 0:
        raise NumalabError("relative nodemask onto an empty set: the kernel divides by zero "
                           "(bitmap_fold with weight 0)", input="rel")
    return pos[np.arange(nbits) % pos.size]


def remap_map(old_words, new_words, nbits: int) -> np.ndarray:
    """Destination of every bit under ``nodes_remap(., old, new)`` (bitmap_remap).

    A bit of ``old`` with ordinal ``k`` goes to the ``(k mod weight(new))``-th bit of ``new``; a bit
    outside ``old`` (or any bit when ``new`` is empty) maps to itself.
    """
    old = unpack(old_words, nbits)
    newpos = _nth(unpack(new_words, nbits))
    dest = np.arange(nbits)
    if newpos.size:
        ordi = np.cumsum(old) - 1
        dest = np.where(old, newpos[np.maximum(ordi, 0) % newpos.size], dest)
    return dest


_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(bool)  # (256, 8)


def apply_map(words, dest, nbits: int) -> np.ndarray:
    """Move every set bit ``b`` of packed nodemasks to ``dest[b]`` (OR-combined); ``dest<0`` drops.

    Vectorized with one 256-entry lookup table per used byte of the nodemask: a bit mapping is
    the common form of every rebind (remap, fold+onto) once the old and new mems are fixed.
    """
    words = np.asarray(words, np.uint64)
    shape = words.shape
    words2 = words.reshape(-1, shape[-1])
    W = shape[-1]
    out = np.zeros_like(words2)
    if words2.shape[0] == 0:
        return out.reshape(shape)
    dest = np.asarray(dest, np.int64)
    full = np.full(W * 64, -1, np.int64)
    full[: dest.size] = dest
    used = np.bitwise_or.reduce(words2, axis=0).astype("<u8").view(np.uint8)   # (W*8,)
    for byte in np.flatnonzero(used):
        d = full[byte * 8: byte * 8 + 8]
        contrib = np.zeros((8, W), np.uint64)
        ok = d >= 0
        contrib[np.flatnonzero(ok), d[ok] // 64] = np.left_shift(np.uint64(1), (d[ok] % 64).astype(np.uint64))
        table = np.bitwise_or.reduce(np.where(_BYTE_BITS[:, :, None], contrib[None], np.uint64(0)), axis=1)
        vals = (words2[:, byte // 8] >> np.uint64(8 * (byte % 8))) & np.uint64(0xFF)
        out |= table[vals.astype(np.intp)]
    return out.reshape(shape)


def _as_words(mask, nbits, B=None):
    """Accept bool masks ``(..., nbits)`` or packed words; broadcast to ``(B, W)``."""
    a = np.asarray(mask)
    if a.dtype == bool:
        if a.shape[-1] != nbits:
            raise NumalabError(f"nodemask has {a.shape[-1]} bits, expected {nbits}", input="mask")
        a = pack(a)
    a = np.asarray(a, np.uint64)
    if B is not None:
        a = np.broadcast_to(a, (B, a.shape[-1]))
    return a


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
    """

    mode: np.ndarray
    flags: np.ndarray
    local: np.ndarray
    nodes: np.ndarray
    w: np.ndarray
    errno: np.ndarray
    nbits: int
    kernel: str

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
                                   nodes=self.nodes[idx], w=self.w[idx], errno=self.errno[idx])

    def row(self, i: int) -> dict:
        """One policy as plain values (node lists by id)."""
        return {"mode": MODE_NAMES.get(int(self.mode[i]), int(self.mode[i])),
                "flags": flag_names(int(self.flags[i])), "local": bool(self.local[i]),
                "nodes": to_nodes(self.nodes[i], self.nbits), "w": to_nodes(self.w[i], self.nbits),
                "errno": ERRNOS[int(self.errno[i])]}


def create(mode, flags, user, allowed, kernel="current", *, n_memory=None, nbits=None,
           bad_mask=None) -> PolicyBatch:
    """set_mempolicy()/mbind() for a batch: validation, ``mpol_new`` and ``mpol_set_nodemask``.

    Rules (v6.1; version windows applied from ``kernel``):

    1. ``sanitize_mpol_flags``: mode >= MPOL_MAX, STATIC with RELATIVE, NUMA_BALANCING with a mode
       other than BIND (v5.12+; PREFERRED_MANY too from v6.10) -> EINVAL. Before v5.12 the
       NUMA_BALANCING bit is not a mode flag, so it makes the mode value too large -> EINVAL.
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

    Returns
    -------
    PolicyBatch

    Examples
    --------
    >>> b = create(["preferred", "bind", "local"], [0, MPOL_F_STATIC_NODES, 0],
    ...            from_nodes([[0, 1], [2], []], 64), from_nodes([1], 64), "6.1")
    >>> b.errno_names().tolist(), [to_nodes(r) for r in b.nodes]
    ([None, 'EINVAL', None], [[1], [], []])
    """
    k = profile(kernel)
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
            w[prow] = res                                      # cache / the v4.13..v5.2 bug
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
    ``nodes_remap(nodes, w, new)`` and ``w = new`` (v4.13..v5.2: ``w`` = the remapped result, a
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
