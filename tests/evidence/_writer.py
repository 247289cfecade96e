"""Child process for the SIGKILL tests: streams into a store, then hangs until killed.

    python -m tests.evidence._writer CONFIG_JSON put|append KEY UPLOAD_ID

It sends the first WRITTEN bytes of `crash_content()`, prints `ready` once the
store has taken all of them and asks for more, then blocks.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from evidence.fs import FilesystemStore
from evidence.keys import ExhibitKey
from evidence.s3 import S3Store
from evidence.store import BlobStore
from tests.evidence.support import REGION, MiB, pattern

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
    )


def body() -> Iterator[bytes]:
    data = crash_content()[:WRITTEN]
    for start in range(0, WRITTEN, MiB):
        yield data[start : start + MiB]
    print("ready", flush=True)
    time.sleep(3600)


def main() -> None:
    config, mode, key, upload_id = sys.argv[1:5]
    store = build(json.loads(config))
    if mode == "put":
        store.put_stream(ExhibitKey.parse(key), body())
    else:
        store.append(UUID(upload_id), 0, body())


if __name__ == "__main__":
    main()
