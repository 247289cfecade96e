"""A jurisdiction's witness (c2sp.org/tlog-witness) for the case logs of a JIT Custody server.

    protocol  the add-checkpoint wire format, both sides (pure)
    logs      which origins and log keys the witness follows (custody-log-v1 §1, §4)
    state     the latest cosigned checkpoint per origin, written atomically and durably
    service   the checks of tlog-witness, in order, and the cosignature
    app       the Starlette app: POST /add-checkpoint, GET /
    keys      the witness key file (Ed25519 cosignature/v1, type 0x04)
    client    the case server's call: request_cosignature()

See docs/adr/0020-witness-state.md.
"""
