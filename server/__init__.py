"""The JIT Custody workspace server: routes -> services -> repositories -> models; auth; CLI."""
