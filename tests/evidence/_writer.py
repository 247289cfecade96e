"""Child process for the SIGKILL tests: streams into a store, then hangs until killed.

    python -m tests.evidence._writer CONFIG_JSON put|append KEY UPLOAD_ID

It sends the first WRITTEN bytes of `crash_content()`, prints `ready` once the
store has taken all of them and asks for more, then blocks.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from evidence.fs import FilesystemStore
from evidence.keys import ExhibitKey
from evidence.s3 import S3Store
from evidence.store import BlobStore
from tests.evidence.support import REGION, S3_TEST_OPTIONS, MiB, pattern

WRITTEN = 12 * MiB
TOTAL = 13 * MiB


def crash_content() -> bytes:
    return pattern(TOTAL, seed=99)


def build(config: dict[str, Any]) -> BlobStore:
    if config["kind"] == "fs":
        return FilesystemStore(config["root"])
    return S3Store(
        config["endpoint"],
        config["access_key"],
        config["secret_key"],
        config["bucket"],
        staging_bucket=config["staging_bucket"],
        secure=False,
        region=REGION,
        **S3_TEST_OPTIONS,
    )


def body(recorded: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
    """WRITTEN bytes, then a pause; `ready` once `recorded()` (parts sent side by side
    are recorded while the body pauses: wait for that, at most a minute)."""
    data = crash_content()[:WRITTEN]
    for start in range(0, WRITTEN, MiB):
        yield data[start : start + MiB]
    deadline = time.monotonic() + 60
    while not recorded() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("ready", flush=True)
    time.sleep(3600)


def main() -> None:
    config, mode, key, upload_id = sys.argv[1:5]
    store = build(json.loads(config))
    if mode == "put":
        store.put_stream(ExhibitKey.parse(key), body())
    else:
        upload = UUID(upload_id)
        store.append(upload, 0, body(lambda: store.status(upload).offset > 0))


if __name__ == "__main__":
    main()
