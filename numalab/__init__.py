"""numalab: a laboratory for Linux NUMA memory placement.

Nodemasks are boolean bit arrays, zonelists are integer index matrices, and every rule is the
real kernel's, per kernel version. See README.md.
"""
from .errors import NumalabError

__version__ = "0.1.0"
__all__ = ["NumalabError", "__version__"]
