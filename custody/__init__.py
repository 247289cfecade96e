"""The custody library: entries, Merkle tree, signed notes, checkpoints, bundles and the verifier.

This package is the part a defence expert reads. It is pure: bytes in, typed results out.
It never opens a socket, a database or object storage (a test asserts its imports).
"""

FORMAT_VERSION = 1
