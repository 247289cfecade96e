"""The `jitc` command line: one console script in front of programs that stand apart.

    verify               the offline court-bundle verifier (jitc/verify.py, custody only)
    witness init|serve   a state's witness (witness/)
    serve, db, ...       the workspace server, its administration and its clients (server/cli/)

`jitc.commands` names every command and imports its module only when it runs.
"""

from jitc.commands import main

__all__ = ["main"]
