"""What an S3 server checks of an upload's bytes: one request per question, in an Object
Lock bucket (COMPLIANCE, 1 day), each answered "accepted" or "refused: CODE".

A body sent with a digest of other bytes that is *accepted* means the server does not
check that digest. The store sends, by default, one SHA-256 per body as the signed
payload hash and as x-amz-checksum-sha256 (evidence/s3/client.py, `Checksum`).

    .venv/bin/python bench/s3_integrity_probe.py --rgw        # scripts/s3-rgw's RGW
    .venv/bin/python bench/s3_integrity_probe.py --moto       # a moto server on loopback
    .venv/bin/python bench/s3_integrity_probe.py --endpoint HOST:PORT [--secure]
        (keys from BENCH_S3_ACCESS_KEY / BENCH_S3_SECRET_KEY; e.g. a MinIO)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minio.error import S3Error
from minio.helpers import DictType

from bench.store_bench import REGION, _rgw, start_moto, start_rgw_user
from evidence.errors import StorageUnavailableError
from evidence.s3.client import (
    CHECKSUM_SHA256,
    PAYLOAD_SHA256,
    Checksum,
    S3Client,
    S3RequestError,
    UploadedPart,
    body_headers,
    md5_b64,
    new_minio,
    retention_headers,
)

BODY = os.urandom(64 * 1024)
OTHER = os.urandom(64 * 1024)
UNSIGNED = "UNSIGNED-PAYLOAD"


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


# What each upload says about its body: (question, headers). Those whose digest is of
# OTHER bytes must be refused by a server that checks that digest.
SDK_SHA256 = {"x-amz-sdk-checksum-algorithm": "SHA256"}
UPLOADS: list[tuple[str, DictType]] = [
    ("no digest but the signed payload hash (minio's)", {}),
    ("signed payload hash of other bytes", {PAYLOAD_SHA256: sha(OTHER).hex()}),
    ("Content-MD5 of other bytes", {"Content-MD5": md5_b64(OTHER)}),
    (
        "signed payload hash right, x-amz-checksum-sha256 of other bytes",
        {PAYLOAD_SHA256: sha(BODY).hex(), CHECKSUM_SHA256: b64(sha(OTHER)), **SDK_SHA256},
    ),
    ("UNSIGNED-PAYLOAD, no checksum", {PAYLOAD_SHA256: UNSIGNED}),
    (
        "UNSIGNED-PAYLOAD, x-amz-checksum-crc32 of other bytes",
        {
            PAYLOAD_SHA256: UNSIGNED,
            "x-amz-checksum-crc32": crc32(OTHER),
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
    ),
    (
        "UNSIGNED-PAYLOAD, x-amz-checksum-sha256 of other bytes",
        {PAYLOAD_SHA256: UNSIGNED, CHECKSUM_SHA256: b64(sha(OTHER)), **SDK_SHA256},
    ),
    ("the store's way (`Checksum.SHA256`), right", body_headers(BODY, Checksum.SHA256)),
    ("the store's old way (`Checksum.MD5`), right", body_headers(BODY, Checksum.MD5)),
]


def answer(call: Callable[[], object]) -> str:
    try:
        result = call()
    except S3RequestError as exc:
        return f"refused: {exc.code or exc.status}"
    except S3Error as exc:
        return f"refused: {exc.code or exc.response.status}"
    except StorageUnavailableError as exc:
        return f"failed: {exc}"
    return "accepted" if result is None else f"accepted: {result}"


def probe(client: S3Client, bucket: str) -> None:
    minio = client.minio
    retention = retention_headers_for_a_day()

    def put(headers: DictType) -> None:
        name = uuid.uuid4().hex
        minio._put_object(bucket, name, BODY, {**headers, **retention})

    def part(headers: DictType, *, declared: bool) -> None:
        name = uuid.uuid4().hex
        create: DictType = {"Content-Type": "application/octet-stream"}
        if declared:
            create["x-amz-checksum-algorithm"] = "SHA256"
        upload_id = minio._create_multipart_upload(bucket, name, create)
        try:
            minio._upload_part(bucket, name, BODY, dict(headers), upload_id, 1)
        finally:
            client.abort_quietly(bucket, name, upload_id)

    for question, headers in UPLOADS:
        print(f"| PutObject, retention headers | {question} | {answer(lambda h=headers: put(h))} |")
    for question, headers in UPLOADS:
        result = answer(lambda h=headers: part(h, declared=False))
        print(f"| UploadPart | {question} | {result} |")
    for question, headers in UPLOADS:
        result = answer(lambda h=headers: part(h, declared=True))
        print(f"| UploadPart, SHA256 declared at create | {question} | {result} |")
    complete(client, bucket)


def complete(client: S3Client, bucket: str) -> None:
    """A declared-SHA256 upload: what ListParts tells, and whether the complete's
    part checksums are compared."""
    for label, wrong in (("right part checksum", False), ("part checksum of other bytes", True)):
        name = uuid.uuid4().hex
        upload_id = client.create_multipart_upload(bucket, name, {}, Checksum.SHA256)
        client.upload_part(bucket, name, upload_id, 1, memoryview(BODY), Checksum.SHA256)
        listed = client.list_parts(bucket, name, upload_id) or []
        listed_sha = listed[0].sha256 if listed else None
        told = "ListParts gives the part's SHA-256" if listed_sha else "ListParts gives no checksum"
        parts = [
            UploadedPart(p.number, p.etag, p.size, b64(sha(OTHER)) if wrong else b64(sha(BODY)))
            for p in listed
        ]

        def run(n: str = name, u: str = upload_id, ps: list[UploadedPart] = parts) -> None:
            client.complete_multipart_upload(bucket, n, u, ps, create_only=False)

        result = answer(run)
        head = client.head(bucket, name)
        made = "object made" if head is not None else "no object"
        client.abort_quietly(bucket, name, upload_id)
        print(f"| CompleteMultipartUpload | {label} ({told}) | {result}, {made} |")


def retention_headers_for_a_day() -> dict[str, str]:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415 - only here

    return retention_headers(datetime.now(UTC) + timedelta(days=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--rgw", action="store_true")
    where.add_argument("--moto", action="store_true")
    where.add_argument("--endpoint")
    parser.add_argument("--secure", action="store_true")
    args = parser.parse_args()
    moto = None
    user = None
    if args.rgw:
        endpoint, user = start_rgw_user()
    elif args.moto:
        moto, endpoint = start_moto()
    else:
        endpoint = args.endpoint
    try:
        client = S3Client(
            new_minio(
                endpoint,
                os.environ.get("BENCH_S3_ACCESS_KEY", "bench"),
                os.environ.get("BENCH_S3_SECRET_KEY", "bench-secret"),
                secure=args.secure,
                region=REGION,
            )
        )
        bucket = f"probe-{uuid.uuid4().hex[:12]}"
        client.make_bucket(bucket, object_lock=True)
        client.set_default_retention(bucket, 1)
        print(f"S3 server at {endpoint}, Object Lock bucket {bucket}")
        print("| request | what the body carries | answer |\n|---|---|---|")
        probe(client, bucket)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait()
        if user is not None:
            _rgw("user-rm", user)


if __name__ == "__main__":
    main()
