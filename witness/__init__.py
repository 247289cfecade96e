"""A jurisdiction's witness (c2sp.org/tlog-witness) for the case logs of a JIT Custody server.

A program of its own, run by each party state: it imports only `custody` (and Starlette and
uvicorn to serve), never the case server.

    protocol  the add-checkpoint wire format, both sides (pure; the case server's client
              builds its requests and reads the answers with it)
    logs      which origins and log keys the witness follows (custody-log-v1 §1, §4)
    state     the latest cosigned checkpoint per origin, written atomically and durably
    service   the checks of tlog-witness, in order, and the cosignature
    app       the Starlette app: POST /add-checkpoint, GET /
    keys      the witness key file (Ed25519 cosignature/v1, type 0x04)
    cli       `jitc witness init` and `jitc witness serve`

See docs/adr/0020-witness-state.md.
"""
