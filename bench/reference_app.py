"""The reference for ingest: a plain Starlette app doing only the irreducible work of an
ingest, nothing of ours (no auth, no database, no custody entry, no store code):

    PUT /ref/{name}   receive the body, SHA-256 and BLAKE3 of it, and
                      - with --dir DIR: write it to DIR/name and fsync (the filesystem case)
                      - with --s3 ENDPOINT --bucket B: put_object it into B (minio, 16 MiB
                        parts, minio's default of 3 parts in flight) (the S3 case)
                      answers the two hex digests and the size.

Written the way a plain app would be: the hashing and the file writes run in a worker
thread per chunk (`anyio.to_thread`), so the event loop keeps receiving; the S3 case
pipes the chunks to minio's put_object in a thread.

    .venv/bin/python bench/reference_app.py --port 8001 --dir /tmp/ref
    .venv/bin/python bench/reference_app.py --port 8001 --s3 127.0.0.1:7480 --bucket ref
        (keys from BENCH_S3_ACCESS_KEY / BENCH_S3_SECRET_KEY)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
import blake3
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PART = 16 * 1024 * 1024


class _Pipe:
    """A file-like reader over chunks handed over a queue (None: the end)."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._buffer = bytearray()
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            chunk = self.chunks.get()
            if chunk is None:
                self._ended = True
            else:
                self._buffer += chunk
        n = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


def make_app(directory: Path | None, s3: Any, bucket: str | None) -> Starlette:
    async def put(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        sha256, b3 = hashlib.sha256(), blake3.blake3()
        size = 0

        def hash_chunk(chunk: bytes) -> None:
            sha256.update(chunk)
            b3.update(chunk)

        if directory is not None:
            path = directory / name
            with path.open("wb") as out:

                def work(chunk: bytes) -> None:
                    hash_chunk(chunk)
                    out.write(chunk)

                async for chunk in request.stream():
                    size += len(chunk)
                    await anyio.to_thread.run_sync(work, chunk)
                await anyio.to_thread.run_sync(out.flush)
                await anyio.to_thread.run_sync(os.fsync, out.fileno())
            path.unlink()  # the next run must not fill the disk; it was durable
        else:
            pipe = _Pipe()
            failed: list[BaseException] = []

            def upload() -> None:
                try:
                    s3.put_object(bucket, name, pipe, -1, part_size=PART)
                except Exception as exc:  # noqa: BLE001 - reported as a 503 below
                    failed.append(exc)

            uploader = threading.Thread(target=upload)
            uploader.start()

            def work_s3(chunk: bytes) -> None:
                hash_chunk(chunk)
                pipe.chunks.put(chunk)

            async for chunk in request.stream():
                size += len(chunk)
                await anyio.to_thread.run_sync(work_s3, chunk)
            await anyio.to_thread.run_sync(pipe.chunks.put, None)
            await anyio.to_thread.run_sync(uploader.join)
            if failed:
                return JSONResponse({"error": repr(failed[0])}, status_code=503)
        return JSONResponse(
            {"size": size, "sha256": sha256.hexdigest(), "blake3": b3.hexdigest()},
            status_code=201,
        )

    return Starlette(routes=[Route("/ref/{name}", put, methods=["PUT"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir")
    parser.add_argument("--s3", help="endpoint host:port (plain HTTP)")
    parser.add_argument("--bucket")
    args = parser.parse_args()
    s3 = None
    if args.s3:
        from minio import Minio  # noqa: PLC0415 - the S3 case only

        s3 = Minio(
            args.s3,
            access_key=os.environ["BENCH_S3_ACCESS_KEY"],
            secret_key=os.environ["BENCH_S3_SECRET_KEY"],
            secure=False,
        )
        if not s3.bucket_exists(args.bucket):
            s3.make_bucket(args.bucket)
    directory = Path(args.dir) if args.dir else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    app = make_app(directory, s3, args.bucket)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
