"""numalab.nodemask: kernel test vectors (lib/test_bitmap.c), the worked examples of the
kernel's doc comments and of the admin guide, libnuma cases, and properties checking the
vectorized engine against the scalar reference (numalab.reference.nodemask).

Expected values are typed in from the kernel's tests and docs (or derived by hand where
noted), never computed by the code under test.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numalab import nodemask as nm
from numalab.errors import NumalabError
from numalab.reference import nodemask as ref


# ----------------------------------------------------------------------------- helpers
def to_int(mask):
    """A 1-D mask as a Python integer (bit b = node b)."""
    return sum(1 << b for b, v in enumerate(np.asarray(mask, bool).tolist()) if v)


def from_int(value, nbits):
    return np.array([(value >> b) & 1 for b in range(nbits)], bool)


def L(text, nbits):
    """A mask from the list syntax, built without the parser under test (ranges only)."""
    m = np.zeros(nbits, bool)
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        m[int(a):int(b or a) + 1] = True
    return m


def nodes(mask):
    return [int(b) for b in np.flatnonzero(mask)]


IMPLS = {
    "engine": {"parselist": lambda t, n, k=None: nm.parselist(t, n, kernel=k),
               "parse_hex": nm.parse_hex, "format_list": nm.format_list, "format_hex": nm.format_hex,
               "parse_nodestring": lambda t, a, c=None: nm.parse_nodestring(t, a, configured=c)},
    "reference": {"parselist": lambda t, n, k=None: np.array(ref.parselist(t, n, kernel=k), bool),
                  "parse_hex": lambda t, n: np.array(ref.parse_hex(t, n), bool),
                  "format_list": lambda m: ref.format_list(list(m)),
                  "format_hex": lambda m: ref.format_hex(list(m)),
                  "parse_nodestring": lambda t, a, c=None: np.array(
                      ref.parse_nodestring(t, list(a), configured=c), bool)},
}


@pytest.fixture(params=sorted(IMPLS))
def impl(request):
    return IMPLS[request.param]


# ----------------------------------------------------------------------------- parselist vectors
# lib/test_bitmap.c parselist_tests (v6.18): (input, expected value, nbits)
E = [0x1, 0x2, 0xffff, 0xffff0000, 0x55555555, 0xaaaaaaaa, 0x11111111, 0x22222222, 0xffffffff,
     0xfffffffe, 0x3333333311111111, 0xffffffff77777777, 0x0, 0x8000, 0x80000000]
PARSELIST_OK = [
    ("0", E[0], 8), ("1", E[1], 8), ("0-15", E[2], 32), ("16-31", E[3], 32),
    ("0-31:1/2", E[4], 32), ("1-31:1/2", E[5], 32), ("0-31:1/4", E[6], 32), ("1-31:1/4", E[7], 32),
    ("0-31:4/4", E[8], 32), ("1-31:4/4", E[9], 32),
    ("0-31:1/4,32-63:2/4", E[10], 64), ("0-31:3/4,32-63:4/4", E[11], 64),
    ("  ,,  0-31:3/4  ,, 32-63:4/4  ,,  ", E[11], 64),
    ("0-31:1/4,32-63:2/4,64-95:3/4,96-127:4/4", 0xffffffff77777777_3333333311111111, 128),
    ("", E[12], 8), ("\n", E[12], 8), (",,  ,,  , ,  ,", E[12], 8), (" ,  ,,  , ,   ", E[12], 8),
    (" ,  ,,  , ,   \n", E[12], 8),
    ("0-0", E[0], 32), ("1-1", E[1], 32), ("15-15", E[13], 32), ("31-31", E[14], 32),
    ("0-0:0/1", E[12], 32), ("0-0:1/1", E[0], 32), ("0-0:1/31", E[0], 32), ("0-0:31/31", E[0], 32),
    ("1-1:1/1", E[1], 32), ("0-15:16/31", E[2], 32), ("15-15:1/2", E[13], 32),
    ("15-15:31/31", E[13], 32), ("15-31:1/31", E[13], 32), ("16-31:16/31", E[3], 32),
    ("31-31:31/31", E[14], 32),
    ("N-N", E[14], 32), ("0-0:1/N", E[0], 32), ("0-0:N/N", E[0], 32), ("0-15:16/N", E[2], 32),
    ("15-15:N/N", E[13], 32), ("15-N:1/N", E[13], 32), ("16-N:16/N", E[3], 32), ("N-N:N/N", E[14], 32),
    ("0-N:1/3,1-N:1/3,2-N:1/3", E[8], 32), ("0-31:1/3,1-31:1/3,2-31:1/3", E[8], 32),
    ("1-10:8/12,8-31:24/29,0-31:0/3", E[9], 32),
    ("all", E[8], 32), ("0, 1, all,  ", E[8], 32), ("all:1/2", E[4], 32), ("ALL:1/2", E[4], 32),
]
PARSELIST_ERR = [
    ("al", 8, "EINVAL"), ("alll", 8, "EINVAL"),
    ("-1", 8, "EINVAL"), ("-0", 8, "EINVAL"), ("10-1", 8, "EINVAL"),
    ("8-8", 8, "ERANGE"), ("0-31", 8, "ERANGE"),
    ("0-31:", 32, "EINVAL"), ("0-31:0", 32, "EINVAL"), ("0-31:0/", 32, "EINVAL"),
    ("0-31:0/0", 32, "EINVAL"), ("0-31:1/0", 32, "EINVAL"), ("0-31:10/1", 32, "EINVAL"),
    ("0-98765432123456789:10/1", 8, "EOVERFLOW"),
    ("a-31", 8, "EINVAL"), ("0-a1", 8, "EINVAL"), ("a-31:10/1", 8, "EINVAL"),
    ("0-31:a/1", 8, "EINVAL"), ("0-\n", 8, "EINVAL"),
]


@pytest.mark.parametrize("text,value,nbits", PARSELIST_OK)
def test_parselist_kernel_vectors(impl, text, value, nbits):
    assert to_int(impl["parselist"](text, nbits)) == value


def test_parselist_timing_vector(impl):
    # "0-2047:128/256": the first 128 bits of every 256 (the kernel only times this one)
    m = impl["parselist"]("0-2047:128/256", 2048)
    assert nodes(m) == [b for b in range(2048) if b % 256 < 128]


@pytest.mark.parametrize("text,nbits,errno", PARSELIST_ERR)
def test_parselist_kernel_errors(impl, text, nbits, errno):
    with pytest.raises(NumalabError) as e:
        impl["parselist"](text, nbits)
    assert e.value.errno == errno
    assert e.value.input == text


# positions derived by hand from bitmap_parse_region()/bitmap_check_region()
@pytest.mark.parametrize("text,nbits,errno,pos", [
    ("0-8", 8, "ERANGE", 2), ("8", 8, "ERANGE", 0), ("10-1", 8, "EINVAL", 0), ("al", 8, "EINVAL", 0),
    ("alll", 8, "EINVAL", 3), ("0-31:", 32, "EINVAL", 5), ("0-31:0", 32, "EINVAL", 6),
    ("0-31:0/", 32, "EINVAL", 7), ("0-31:0/0", 32, "EINVAL", 7), ("0-31:10/1", 32, "EINVAL", 5),
    ("0-98765432123456789:10/1", 8, "EOVERFLOW", 2), ("0-a1", 8, "EINVAL", 2), ("0-\n", 8, "EINVAL", 2),
    ("1,2,x", 8, "EINVAL", 4), ("1 3-2", 8, "EINVAL", 2), ("1-2-3", 8, "EINVAL", 3), ("n", 8, "EINVAL", 0),
    ("4294967296", 8, "EOVERFLOW", 0),
    # 4294967295 + 1 wraps to a group size of 0 in the kernel's unsigned int
    ("4294967295", 8, "EINVAL", 0),
])
def test_parselist_error_positions(impl, text, nbits, errno, pos):
    with pytest.raises(NumalabError) as e:
        impl["parselist"](text, nbits)
    assert (e.value.errno, e.value.position) == (errno, pos)


@pytest.mark.parametrize("text,nbits,expected", [
    ("1\n2", 8, "1"),          # a newline right after a region ends the string
    ("1,\n2", 8, "1-2"),       # ... elsewhere it is white space
    ("0-3:1/2\n5", 8, "0,2,5"),
    ("1\x002", 8, "1"),        # NUL ends the string
    ("3\t5", 8, "3,5"),
    ("0-3:1/2N", 8, "0,2,7"),  # the kernel does not check what follows the group size
    ("007", 8, "7"),
    ("1-7:1/4294967295", 8, "0-1"),  # 32-bit wrap of the next group start (1 + g = 0)
])
def test_parselist_edges(impl, text, nbits, expected):
    assert nodes(impl["parselist"](text, nbits)) == nodes(L(expected, nbits))


@pytest.mark.parametrize("text,since", [("N", "5.13"), ("0-N", "5.13"), ("all", "5.14"),
                                        ("ALL:1/2", "5.14"), ("1,all", "5.14")])
def test_parselist_n_from_5_13_all_from_5_14(impl, text, since):
    """N arrived in v5.13 (Gortmaker), all in v5.14 (b18def121f07): one release apart."""
    before = {"5.13": "5.12", "5.14": "5.13"}[since]
    assert impl["parselist"](text, 8, since).any()
    with pytest.raises(NumalabError) as e:
        impl["parselist"](text, 8, before)
    assert e.value.errno == "EINVAL"
    assert e.value.position == text.index(text.lstrip("01-,")[0])


def test_parselist_error_message_names_input_and_problem():
    with pytest.raises(NumalabError) as e:
        nm.parselist("0-8", 8)
    assert str(e.value) == "'0-8': bit 8 is beyond the last bit 7 [ERANGE at position 2]"
    assert isinstance(e.value, ValueError)


def test_parselist_batch_shapes_and_errors():
    texts = np.array([["0-3", "5,7"], ["", "all"]])
    m = nm.parselist(texts, 8)
    assert m.shape == (2, 2, 8)
    assert [nodes(x) for x in m.reshape(-1, 8)] == [[0, 1, 2, 3], [5, 7], [], list(range(8))]
    with pytest.raises(NumalabError) as e:
        nm.parselist(["1", "2", "0-9", "x"], 8)
    assert e.value.errno == "ERANGE" and e.value.input == "0-9" and "item 2" in str(e.value)
    assert nm.parselist([], 8).shape == (0, 8)
    with pytest.raises(NumalabError):
        nm.parselist(np.array([1, 2]), 8)
    with pytest.raises(NumalabError):
        nm.parselist("1", 0)


def test_parselist_non_ascii_is_einval_at_its_byte():
    with pytest.raises(NumalabError) as e:
        nm.parselist("1,\u00e9", 8)
    assert (e.value.errno, e.value.position) == ("EINVAL", 2)
    with pytest.raises(NumalabError) as e:
        nm.parselist(["1", "1,\u00e9"], 8)
    assert (e.value.errno, e.value.position) == ("EINVAL", 2)


# ----------------------------------------------------------------------------- hex vectors
# lib/test_bitmap.c parse_tests: words are least significant first in the kernel's table
HEX_OK = [
    ("", 0, 32), (" ", 0, 32), ("0", 0, 32), ("0\n", 0, 32), ("1", 1, 32),
    ("deadbeef", 0xdeadbeef, 32), ("1,0", 0x100000000, 33), ("deadbeef,\n,0,1", 0xdeadbeef, 96),
    ("deadbeef,1,0", 0xdeadbeef << 64 | 0x100000000, 96),
    ("baadf00d,deadbeef,1,0", 0xbaadf00ddeadbeef << 64 | 0x100000000, 128),
    ("badf00d,deadbeef,1,0", 0x0badf00ddeadbeef << 64 | 0x100000000, 124),
    ("  badf00d,deadbeef,1,0  ", 0x0badf00ddeadbeef << 64 | 0x100000000, 124),
    (" , badf00d,deadbeef,1,0 , ", 0x0badf00ddeadbeef << 64 | 0x100000000, 124),
    (" , badf00d, ,, ,,deadbeef,1,0 , ", 0x0badf00ddeadbeef << 64 | 0x100000000, 124),
]
HEX_ERR = [
    ("goodfood,deadbeef,1,0", 128, "EINVAL"), ("3,0", 33, "EOVERFLOW"),
    ("123badf00d,deadbeef,1,0", 128, "EOVERFLOW"), ("badf00d,deadbeef,1,0", 90, "EOVERFLOW"),
    ("fbadf00d,deadbeef,1,0", 95, "EOVERFLOW"), ("badf00d,deadbeef,1,0", 100, "EOVERFLOW"),
]


@pytest.mark.parametrize("text,value,nbits", HEX_OK)
def test_parse_hex_kernel_vectors(impl, text, value, nbits):
    assert to_int(impl["parse_hex"](text, nbits)) == value


@pytest.mark.parametrize("text,nbits,errno", HEX_ERR)
def test_parse_hex_kernel_errors(impl, text, nbits, errno):
    with pytest.raises(NumalabError) as e:
        impl["parse_hex"](text, nbits)
    assert e.value.errno == errno


@pytest.mark.parametrize("text,nbits,errno,pos", [
    ("goodfood,deadbeef,1,0", 128, "EINVAL", 6),  # read from the right: 'd', then 'o' fails
    ("3,0", 33, "EOVERFLOW", 0),  # bit 33 set, in the chunk starting at 0
    ("123badf00d,deadbeef,1,0", 128, "EOVERFLOW", 1),  # a 9th hex digit
    ("badf00d,deadbeef,1,0", 90, "EOVERFLOW", 6),  # a 4th chunk (ending at 6) for 3 chunks
])
def test_parse_hex_error_positions(impl, text, nbits, errno, pos):
    with pytest.raises(NumalabError) as e:
        impl["parse_hex"](text, nbits)
    assert (e.value.errno, e.value.position) == (errno, pos)


def test_parse_hex_skips_one_byte_after_eight_digits(impl):
    # bitmap_get_x32_reverse() steps over the byte after 8 digits without checking it
    assert to_int(impl["parse_hex"]("x12345678", 32)) == 0x12345678
    assert to_int(impl["parse_hex"]("1x12345678", 64)) == 0x1_12345678


def test_parse_hex_batch():
    m = nm.parse_hex(["00000000,0000000f", "1,00000000", " f ", "00000000,00000000"], 64)
    assert [to_int(x) for x in m] == [0xf, 1 << 32, 0xf, 0]
    with pytest.raises(NumalabError) as e:
        nm.parse_hex(["1", "1,0,0"], 64)
    assert e.value.errno == "EOVERFLOW" and "item 1" in str(e.value)


# ----------------------------------------------------------------------------- printing
def test_format_list_kernel_vector(impl):
    m = from_int(0x3333333311111111, 64)
    assert impl["format_list"](m) == \
        "0,4,8,12,16,20,24,28,32-33,36-37,40-41,44-45,48-49,52-53,56-57,60-61"
    assert impl["format_list"](np.zeros(8, bool)) == ""


@pytest.mark.parametrize("bits,nbits,text", [
    ([0, 1, 2, 3], 4, "f"),
    ([0, 1, 2, 3], 64, "00000000,0000000f"),
    ([0, 1], 1024, "00000000," * 31 + "00000003"),
    ([32], 33, "1,00000000"),
    ([32], 40, "01,00000000"),
    ([0], 1, "1"), ([4], 5, "10"),
])
def test_format_hex_vectors(impl, bits, nbits, text):
    m = np.zeros(nbits, bool)
    m[bits] = True
    assert impl["format_hex"](m) == text


def test_format_hex_kernel_vector(impl):
    assert impl["format_hex"](from_int(0x3333333311111111, 64)) == "33333333,11111111"


def test_format_batch_returns_string_arrays():
    m = np.zeros((2, 3, 40), bool)
    m[1, 2, [0, 1, 2, 39]] = True
    lists, hexes = nm.format_list(m), nm.format_hex(m)
    assert lists.shape == hexes.shape == (2, 3)
    assert lists[1, 2] == "0-2,39" and lists[0, 0] == ""
    assert hexes[1, 2] == "80,00000007" and hexes[0, 0] == "00,00000000"


# ----------------------------------------------------------------------------- worked examples
N = 256


def p(text):
    return L(text, N)


def test_remap_vectors():
    assert nodes(nm.remap(p("1,5,7"), p("4-7"), p("12-15"))) == [1, 13, 15]
    assert nodes(nm.remap(p("0,2"), p("2-3"), p("5"))) == [0, 5]
    assert nodes(nm.remap(p("4-7"), p("4-7"), p("0-1"))) == [0, 1]
    assert int(nm.bitremap(5, p("4-7"), p("12-15"))) == 13
    # empty old or new: a copy
    assert nodes(nm.remap(p("1,5"), p(""), p("3"))) == [1, 5]
    assert nodes(nm.remap(p("1,5"), p("1"), p(""))) == [1, 5]
    # admin guide: default rebind of 1-3 from cpuset 1-3 to 3-5, and the lossy round trip
    assert nodes(nm.remap(p("1-3"), p("1-3"), p("3-5"))) == [3, 4, 5]
    there = nm.remap(p("1,3,5"), p("1-5"), p("7-9"))
    assert nodes(there) == [7, 8, 9]
    assert nodes(nm.remap(there, p("7-9"), p("1-5"))) == [1, 2, 3]


RELMAP = "40-43,45,48,53,61,74,95"


@pytest.mark.parametrize("orig,expected", [
    ("0", "40"), ("1", "41"), ("9", "95"), ("10", "40"),
    ("1,3,5,7", "41,43,48,61"), ("0-4", "40-43,45"), ("0,9,18,27", "40,61,74,95"),
    ("0,10,20,30", "40"), ("0,11,22,33", "40-43"), ("0,12,24,36", "40,42,45,53"),
    ("78,102,211", "41-42,74"),
])
def test_fold_onto_kernel_doc_vectors(orig, expected):
    # bitmap_onto()/bitmap_fold() doc comment: relmap has weight 10
    assert nodes(nm.relative(p(orig), p(RELMAP))) == nodes(p(expected))
    assert nodes(nm.onto(nm.fold(p(orig), 10), p(RELMAP))) == nodes(p(expected))


def test_onto_and_fold_alone():
    assert nodes(nm.onto(p("1,3,5,7,9,11"), p("30-39"))) == [31, 33, 35, 37, 39]
    assert nodes(nm.fold(p("0,9,18,27"), 10)) == [0, 7, 8, 9]
    assert nodes(nm.fold(p("78,102,211"), 10)) == [1, 2, 8]
    assert nodes(nm.onto(p("78,102,211"), p(RELMAP))) == []
    assert nodes(nm.onto(p(""), p(RELMAP))) == [] and nodes(nm.onto(p("1"), p(""))) == []
    with pytest.raises(NumalabError):
        nm.fold(p("3"), 0)
    assert nodes(nm.fold(p(""), 0)) == []


@pytest.mark.parametrize("user,allowed,expected", [
    ("1-3", "4-7", "5-7"),                                   # Rientjes 2008
    ("1-3", "1-3", "1-3"), ("1-3", "1-7", "2-4"), ("1-3", "1,5-6", "1,5-6"), ("1-3", "1,5-7", "5-7"),
    ("2-5", "2-5", "2-5"), ("2-5", "3-7", "3,5-7"), ("2-5", "0,2-3,5", "0,2-3,5"),  # admin guide
])
def test_relative_vectors(user, allowed, expected):
    assert nodes(nm.relative(p(user), p(allowed))) == nodes(p(expected))


def test_static_rebind_is_intersection():
    assert nodes(p("1-3") & p("3-5")) == [3]


def test_queries():
    m = p("2,4,6")
    assert int(nm.weight(m)) == 3 and int(nm.first(m)) == 2
    assert int(nm.first(p(""))) == N and int(nm.next_in(p(""), 3)) == N
    assert int(nm.next_in(m, 6)) == 2 and int(nm.next_in(m, 2)) == 4 and int(nm.next_in(m, 100)) == 2
    assert int(nm.next_node(m, 6)) == N and int(nm.next_node(m, -1)) == 2
    assert [int(nm.nth(m, k)) for k in range(5)] == [2, 4, 6, N, N]
    assert [int(nm.ordinal(m, b)) for b in (2, 3, 4, 6, 300)] == [0, -1, 1, 2, -1]
    assert bool(nm.intersects(m, p("4"))) and not bool(nm.intersects(m, p("3,5")))
    assert bool(nm.subset(p("2,6"), m)) and not bool(nm.subset(p("2,3"), m))
    assert bool(nm.is_empty(p(""))) and nodes(nm.complement(L("0-5", 8))) == [6, 7]


def test_from_to_nodes():
    assert nodes(nm.from_nodes([5, 1, 1], 8)) == [1, 5]
    assert nm.from_nodes([[0, 2], [3, -1]], 4).astype(int).tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]
    assert nm.to_nodes(L("1,3-4", 8)).tolist() == [1, 3, 4]
    assert nm.to_nodes(np.array([L("1", 4), L("0,2", 4)])).tolist() == [[1, -1], [0, 2]]
    with pytest.raises(NumalabError) as e:
        nm.from_nodes([8], 8)
    assert e.value.errno == "ERANGE"


def test_masks_are_checked():
    with pytest.raises(NumalabError):
        nm.weight([0, 3, 5])  # node ids, not a mask
    with pytest.raises(NumalabError):
        nm.remap(np.zeros(8, bool), np.zeros(8, bool), np.zeros(9, bool))
    assert int(nm.weight([0, 1, 1])) == 2


# ----------------------------------------------------------------------------- libnuma
A4 = L("0-3", 8)
EVEN = L("2,4,6,8", 16)


@pytest.mark.parametrize("text,allowed,expected", [
    ("", A4, ""), ("1-2", A4, "1-2"), ("all", A4, "0-3"), ("!1", A4, "0,2-3"),
    ("+1", EVEN, "4"), ("+1-2", EVEN, "4,6"), ("+all", EVEN, "2,4,6,8"),
    ("0x2", A4, "2"), ("010", L("0-15", 16), "8"), (" 1", A4, "1"), ("1, 2", A4, "1-2"),
    ("1,all", A4, "0-3"), ("3-1", A4, "3"), ("-0", A4, "0"),
    ("0-3", L("0,2-3", 8), "0,2-3"), ("2-8", EVEN, "2,4,6,8"),
])
def test_parse_nodestring_cases(impl, text, allowed, expected):
    assert nodes(impl["parse_nodestring"](text, allowed)) == nodes(L(expected, len(allowed)))


def test_parse_nodestring_invert_flips_configured_ids_only(impl):
    allowed = L("0-1,8-9", 16)
    # configured = 4: ids 0..3 flip, even those not allowed; 8 and 9 are never flipped
    assert nodes(impl["parse_nodestring"]("!0", allowed, 4)) == [1, 2, 3]


@pytest.mark.parametrize("text,allowed,pos", [
    ("5", A4, 0), ("+4", EVEN, 1), ("all,1", A4, 0), ("1,,2", A4, 2), ("1,", A4, 2),
    ("1-", A4, 2), ("1x", A4, 1), ("1 ", A4, 1), ("+!1", A4, 1), ("0-1", L("0,2-3", 8), 2),
    ("-1", A4, 0), ("netdev:eth0", A4, 0), ("08", A4, 1), ("N", A4, 0),
])
def test_parse_nodestring_errors(impl, text, allowed, pos):
    with pytest.raises(NumalabError) as e:
        impl["parse_nodestring"](text, allowed)
    assert e.value.position == pos and e.value.input == text


# ----------------------------------------------------------------------------- properties
@st.composite
def batch_of_masks(draw, min_rows=1, max_rows=6, nbits=None):
    nbits = nbits or draw(st.integers(1, 96))
    rows = draw(st.integers(min_rows, max_rows))
    dens = draw(st.sampled_from([0.1, 0.3, 0.5, 0.9]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.random((rows, nbits)) < dens


@given(batch_of_masks(max_rows=4))
def test_format_then_parse_is_identity(ms):
    nbits = ms.shape[-1]
    assert (nm.parselist(nm.format_list(ms), nbits) == ms).all()
    assert (nm.parse_hex(nm.format_hex(ms), nbits) == ms).all()
    for row in ms:
        assert (nm.parselist(nm.format_list(row), nbits) == row).all()
        assert (nm.parse_hex(nm.format_hex(row), nbits) == row).all()


@given(batch_of_masks(max_rows=4))
def test_format_matches_reference(ms):
    lists, hexes = nm.format_list(ms), nm.format_hex(ms)
    for i, row in enumerate(ms):
        assert lists[i] == ref.format_list(list(row))
        assert hexes[i] == ref.format_hex(list(row))


@st.composite
def four_batches(draw):
    nbits = draw(st.integers(1, 70))
    rows = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dens = rng.choice([0.05, 0.3, 0.6, 0.95], size=4)
    return [rng.random((rows, nbits)) < d for d in dens], rng


@given(four_batches(), st.sampled_from(["all", "src", "none"]))
def test_ops_match_reference(data, batched):
    (src, old, new, _), rng = data
    nbits = src.shape[1]
    if batched == "src":  # one old/new for the whole batch (the broadcast fast paths)
        old, new = old[0], new[0]
    elif batched == "none":
        src = src[0]
        old, new = old[0], new[0]
    S = np.atleast_2d(src)
    O = np.broadcast_to(old, S.shape)
    W = np.broadcast_to(new, S.shape)
    bits = rng.integers(-1, nbits + 2, size=S.shape[0])
    ks = rng.integers(-1, nbits + 2, size=S.shape[0])
    szs = rng.integers(1, nbits + 3, size=S.shape[0])
    res = {
        "remap": np.atleast_2d(nm.remap(src, old, new)),
        "onto": np.atleast_2d(nm.onto(src, new)),
        "fold": nm.fold(S, szs),
        "fold1": nm.fold(S, int(szs[0])),
        "weight": np.atleast_1d(nm.weight(src)), "first": np.atleast_1d(nm.first(src)),
        "nth": nm.nth(S, ks), "next_in": nm.next_in(S, bits), "next_node": nm.next_node(S, bits),
        "ordinal": nm.ordinal(S, bits), "bitremap": nm.bitremap(bits, O, W),
        "intersects": np.atleast_1d(nm.intersects(src, new)), "subset": np.atleast_1d(nm.subset(src, old)),
    }
    try:
        rel = np.atleast_2d(nm.relative(src, new))
    except NumalabError:  # fold by weight 0 (an empty allowed mask) with bits set
        rel = None
    some_ref_raised = False
    for i in range(S.shape[0]):
        s, o, w = list(S[i]), list(O[i]), list(W[i])
        want = _outcome(ref.relative, s, w)
        if rel is None:
            some_ref_raised |= want[0] == "err"
        else:
            assert ("ok", rel[i].tolist()) == want
        assert res["remap"][i].tolist() == ref.remap(s, o, w)
        assert res["onto"][i].tolist() == ref.onto(s, w)
        assert res["fold"][i].tolist() == ref.fold(s, int(szs[i]))
        assert res["fold1"][i].tolist() == ref.fold(s, int(szs[0]))
        assert res["weight"][i] == ref.weight(s) and res["first"][i] == ref.first(s)
        assert res["nth"][i] == ref.nth(s, int(ks[i]))
        assert res["next_in"][i] == ref.next_in(s, int(bits[i]))
        assert res["next_node"][i] == ref.next_node(s, int(bits[i]))
        assert res["ordinal"][i] == ref.ordinal(s, int(bits[i]))
        assert res["bitremap"][i] == ref.bitremap(int(bits[i]), o, w)
        assert res["intersects"][i] == ref.intersects(s, w) and res["subset"][i] == ref.subset(s, o)
    assert rel is not None or some_ref_raised


def _outcome(fn, *args):
    try:
        return ("ok", np.asarray(fn(*args), bool).tolist())
    except NumalabError as e:
        return ("err", e.errno, e.position)


LIST_ALPHABET = st.sampled_from(list("0123456789") * 3 + list(",,--::/ \nNa")
                                + ["all", "ALL", "31", "4294967296", "\t", "\x00"])


@given(st.lists(LIST_ALPHABET, max_size=14).map("".join), st.sampled_from([1, 8, 32, 40]),
       st.sampled_from([None, "5.10"]))
def test_parselist_matches_reference_on_any_text(text, nbits, kernel):
    got = _outcome(lambda: nm.parselist(text, nbits, kernel=kernel))
    want = _outcome(lambda: ref.parselist(text, nbits, kernel=kernel))
    assert got == want


LIST_PIECES = st.sampled_from(list("0123456789") * 2 + list(",-,-") + ["10", "63", "64", "1-2-3"])


@given(st.lists(st.lists(LIST_PIECES, max_size=10).map("".join), min_size=1, max_size=8))
def test_batched_parselist_matches_items(texts):
    outcomes = [_outcome(lambda t=t: ref.parselist(t, 64)) for t in texts]
    if all(o[0] == "ok" for o in outcomes):
        got = nm.parselist(texts, 64)
        assert got.tolist() == [o[1] for o in outcomes]
    else:
        first_bad = next(i for i, o in enumerate(outcomes) if o[0] == "err")
        with pytest.raises(NumalabError) as e:
            nm.parselist(texts, 64)
        assert (e.value.errno, e.value.position) == outcomes[first_bad][1:]
        assert f"item {first_bad}:" in str(e.value)


HEX_ALPHABET = st.sampled_from(list("0123456789abcdefABF") + list(",, \n")
                               + ["g", "x", "deadbeef", "123456789"])


@given(st.lists(HEX_ALPHABET, max_size=12).map("".join), st.sampled_from([1, 4, 32, 33, 64, 100]))
def test_parse_hex_matches_reference_on_any_text(text, nbits):
    assert _outcome(lambda: nm.parse_hex(text, nbits)) == _outcome(lambda: ref.parse_hex(text, nbits))


NS_ALPHABET = st.sampled_from(list("0123456789") + list(",,--") + ["!", "+", "all", "0x", "x", " ", "1", "3"])


@given(st.lists(NS_ALPHABET, max_size=8).map("".join), batch_of_masks(max_rows=1, nbits=12),
       st.integers(0, 14))
def test_parse_nodestring_matches_reference(text, allowed, configured):
    a = allowed[0]
    assert _outcome(lambda: nm.parse_nodestring(text, a, configured=configured)) == \
        _outcome(lambda: ref.parse_nodestring(text, list(a), configured=configured))


# ----------------------------------------------------------------------------- viz and widgets
def test_mapping_frame_rows():
    from numalab.viz.nodemask import mapping_frame

    df = mapping_frame("1-3", "1-3", "3-5", nbits=8).set_index("operation")
    # admin guide: default remap 1-3 -> 3-5, static rebind {3}, relative of 1-3 onto 3-5 (w 3)
    assert df.loc["remap(user, old, new)", "list"] == "3-5"
    assert df.loc["user & new", "list"] == "3"
    assert df.loc["relative(user, new)", "list"] == "3-5"  # fold(1-3, 3) = 0-2 -> onto 3-5
    assert df.loc["fold(user, w(new))", "list"] == "0-2"
    assert df.loc["onto(user, new)", "list"] == "4-5"      # ordinals 1,2 of 3-5; 3 >= w dropped
    assert df.loc["user", "bits"] == ".###...." and df.loc["user", "hex"] == "0e"


def test_mapping_chart_has_bound_params_and_small_data():
    import altair as alt
    from numalab.viz.nodemask import mapping_chart, scenario_tables, DEFAULT_CHANGES, DEFAULT_USERS

    cells, labels = scenario_tables(DEFAULT_USERS, DEFAULT_CHANGES, 16)
    assert len(cells) < 5000 and len(labels) == len(DEFAULT_USERS) * len(DEFAULT_CHANGES) * 8
    one = cells[(cells.user == "1-3") & (cells.change == "0-7 -> 4-7")
                & (cells.operation == "remap(user, old, new)")]
    assert sorted(one.node) == [5, 6, 7]
    spec = mapping_chart().to_dict()
    binds = {p["name"]: p["bind"]["input"] for p in spec["params"]}
    assert binds == {"user": "select", "change": "select"}
    assert isinstance(mapping_chart(), alt.HConcatChart)


def test_widget_panel_updates_and_shows_errors():
    from numalab.widgets._panel import text_of
    from numalab.widgets.nodemask import panel

    box = panel("1-3", "0-7", "4-7", nbits=8)
    assert text_of(box)[1].endswith("relative 5-7")
    box.children[0].value = "0-9"                     # one line saying why, the table left out
    line = text_of(box)[1]
    assert line.startswith("refused: ") and "ERANGE" in line and "position 2" in line
    assert len(box.children[-1].outputs) == 1
    box.children[0].value = "0"
    assert "ERANGE" not in " ".join(text_of(box)) and len(box.children[-1].outputs) == 2


def test_wide_masks_match_reference():
    # nbits > 512 takes the reduceat path for shared mappings; 1024 = Debian's MAX_NUMNODES
    rng = np.random.default_rng(5)
    for nbits in (600, 1024):
        src = rng.random((3, nbits)) < 0.2
        old, new = rng.random(nbits) < 0.3, rng.random(nbits) < 0.1
        got = nm.remap(src, old, new), nm.onto(src, new), nm.relative(src, new), nm.fold(src, 37)
        for i in range(3):
            s = list(src[i])
            assert got[0][i].tolist() == ref.remap(s, list(old), list(new))
            assert got[1][i].tolist() == ref.onto(s, list(new))
            assert got[2][i].tolist() == ref.relative(s, list(new))
            assert got[3][i].tolist() == ref.fold(s, 37)


@pytest.mark.parametrize("text,before,since", [("all", "5.13", "5.14"), ("0-N", "5.12", "5.13"),
                                               ("ALL:1/2", "5.13", "5.14")])
def test_n_and_all_before_their_release_say_why(text, before, since):
    with pytest.raises(NumalabError) as e:
        nm.parselist(text, 8, kernel=before)
    assert e.value.errno == "EINVAL" and since in str(e.value)
    assert nm.parselist(text, 8, kernel=since).any()
