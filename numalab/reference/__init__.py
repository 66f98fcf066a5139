"""The scalar reference model: the kernel's rules written as plain loops, the way the kernel
code reads, independently of the vectorized engine. It is the oracle the engine is tested
against (tests compare the two over generated inputs) and the baseline of ``benchmarks/``.

Nothing here is fast and nothing here is vectorized on purpose. Submodules: ``nodemask``
(lib/bitmap.c), ``zonelist`` (mm/page_alloc.c), ``mempolicy`` and ``cpuset``
(mm/mempolicy.c, kernel/cgroup/cpuset.c).
"""
