"""Every body the S3 store uploads carries its digest, and the server refuses bytes that
differ from it: the bytes stored are the bytes hashed (docs/operations.md, "What the S3
server checks of each upload").

Run on moto by default and on Ceph RGW with JITC_TEST_S3=rgw (tests/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable

import pytest
from minio.credentials.credentials import Credentials
from minio.helpers import DictType

from evidence.errors import UploadCorruptError
from evidence.keys import ExhibitKey
from evidence.s3 import Checksum, S3RequestError
from evidence.s3 import client as s3_client
from evidence.s3.client import UploadedPart, complete_body, parse_list_parts
from evidence.s3.staging import Multipart, Staging
from tests.evidence.support import MiB, MotoServer, chunked, make_store, pattern
from tests.evidence.test_s3_servers import leftovers
from tests.evidence.test_store import expected_digests, read_all

BodyHeaders = Callable[[bytes | bytearray | memoryview, Checksum], DictType]


def _changed_after_hashing(real: BodyHeaders) -> BodyHeaders:
    """The digest of other bytes than those sent: a body changed after it was hashed
    (memory, a proxy, the wire)."""

    def headers(data: bytes | bytearray | memoryview, checksum: Checksum) -> DictType:
        return real(b"!" + bytes(data)[1:], checksum)

    return headers


@pytest.mark.s3
@pytest.mark.parametrize("checksum", list(Checksum))
@pytest.mark.parametrize("size", [100, 11 * MiB], ids=["single-put", "multipart"])
def test_a_body_that_differs_from_its_digest_is_refused(
    moto: MotoServer,
    key: ExhibitKey,
    monkeypatch: pytest.MonkeyPatch,
    checksum: Checksum,
    size: int,
) -> None:
    if moto.is_moto:
        pytest.skip("moto checks no digest of the bytes it receives (moto 5.2)")
    store = make_store(moto, checksum=checksum, retention_days=1)
    store.prepare()
    monkeypatch.setattr(s3_client, "body_headers", _changed_after_hashing(s3_client.body_headers))
    with pytest.raises(S3RequestError) as refused:
        store.put_stream(key, chunked(pattern(size), MiB))
    # The signed payload hash (sha256) or Content-MD5 (md5) of other bytes.
    wanted = "XAmzContentSHA256Mismatch" if checksum is Checksum.SHA256 else "BadDigest"
    assert refused.value.code == wanted
    monkeypatch.undo()
    assert not store.exists(key)
    assert leftovers(moto, store, key) == []


@pytest.mark.s3
@pytest.mark.parametrize("checksum", list(Checksum))
def test_either_checksum_ingests_and_resumes(
    moto: MotoServer, key: ExhibitKey, checksum: Checksum
) -> None:
    store = make_store(moto, checksum=checksum, retention_days=1)
    store.prepare()
    data = pattern(11 * MiB + 5)
    assert store.put_stream(key, chunked(data, MiB)) == expected_digests(data)
    assert read_all(store, key) == data
    other = ExhibitKey(key.case_id, uuid.uuid4())
    upload_id = uuid.uuid4()
    store.begin_upload(upload_id, other, len(data))
    store.append(upload_id, 0, chunked(data[: 6 * MiB], MiB))
    store.append(upload_id, 6 * MiB, chunked(data[6 * MiB :], MiB))
    assert store.finish(upload_id) == expected_digests(data)
    assert read_all(store, other) == data
    assert leftovers(moto, store, other) == []


@pytest.mark.s3
def test_an_upload_keeps_the_checksum_it_was_started_with(
    moto: MotoServer, key: ExhibitKey
) -> None:
    """A multipart upload declared SHA256 (or not) at its start, and AWS refuses parts of
    another kind: a store configured otherwise since, or restarted, keeps its own."""
    md5_store = make_store(moto, checksum=Checksum.MD5, retention_days=1)
    md5_store.prepare()
    data = pattern(13 * MiB)
    upload_id = uuid.uuid4()
    md5_store.begin_upload(upload_id, key, len(data))
    md5_store.append(upload_id, 0, chunked(data[: 7 * MiB], MiB))
    staging = Staging(md5_store.client, md5_store.staging_bucket)
    started = staging.multipart(upload_id)
    assert started is not None
    assert started.checksum is Checksum.MD5
    restarted = make_store(
        moto, bucket=md5_store.bucket, staging=md5_store.staging_bucket, retention_days=1
    )
    assert restarted.checksum is Checksum.SHA256
    restarted.append(upload_id, 7 * MiB, chunked(data[7 * MiB :], MiB))
    assert staging.multipart(upload_id) == started
    assert restarted.finish(upload_id) == expected_digests(data)
    assert read_all(restarted, key) == data


@pytest.mark.s3
def test_a_record_from_before_checksums_means_md5(moto: MotoServer) -> None:
    store = make_store(moto)
    store.prepare()
    staging = Staging(store.client, store.staging_bucket)
    upload_id = uuid.uuid4()
    old = {"upload_id": "u-1", "part_size": 5 * MiB}  # written by the store before checksums
    store.client.put(
        store.staging_bucket, staging.prefix(upload_id) + "multipart", json.dumps(old).encode(), {}
    )
    assert staging.multipart(upload_id) == Multipart("u-1", 5 * MiB, Checksum.MD5)
    unknown = {**old, "checksum": "crc32"}
    store.client.put(
        store.staging_bucket,
        staging.prefix(upload_id) + "multipart",
        json.dumps(unknown).encode(),
        {},
    )
    with pytest.raises(UploadCorruptError, match="multipart record"):
        staging.multipart(upload_id)


# -- the parts' checksums, as AWS lists them and wants them back -----------------------------

AWS_LIST_PARTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>evidence</Bucket><Key>cases/c/e</Key><UploadId>u-1</UploadId>
  <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2026-12-04T10:00:00.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag><Size>5242880</Size>
    <ChecksumSHA256>bq5F0uqQ1jAMtcjrPPmFzF6e1aN2NOxOtNHEWyhRFFc=</ChecksumSHA256></Part>
  <Part><PartNumber>2</PartNumber><LastModified>2026-12-04T10:00:01.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag><Size>17</Size></Part>
</ListPartsResult>"""


SHA256_OF_PART_1 = "bq5F0uqQ1jAMtcjrPPmFzF6e1aN2NOxOtNHEWyhRFFc="


def test_listed_parts_keep_their_sha256_and_the_complete_gives_it_back() -> None:
    parts, marker = parse_list_parts(AWS_LIST_PARTS)
    assert marker == "2"
    assert parts == [
        UploadedPart(1, "7778aef83f66abc1fa1e8477f296d394", 5 * MiB, SHA256_OF_PART_1),
        UploadedPart(2, "aaaa18db4cc2f85cedef654fccc4a4x8", 17, None),
    ]
    assert complete_body(parts) == (
        b"<CompleteMultipartUpload>"
        b"<Part><PartNumber>1</PartNumber><ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>"
        b"<ChecksumSHA256>bq5F0uqQ1jAMtcjrPPmFzF6e1aN2NOxOtNHEWyhRFFc=</ChecksumSHA256></Part>"
        b"<Part><PartNumber>2</PartNumber><ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag>"
        b"</Part></CompleteMultipartUpload>"
    )
    last_page = AWS_LIST_PARTS.replace(b"<IsTruncated>true", b"<IsTruncated>false")
    assert parse_list_parts(last_page)[1] is None


def test_the_store_hashes_each_body_once_for_both_headers() -> None:
    """The signed payload hash and the checksum header are one SHA-256, and the minio
    client signs the one given instead of hashing the body again."""
    body = pattern(100_000)
    digest = hashlib.sha256(body).digest()
    headers = s3_client.body_headers(body, Checksum.SHA256)
    assert headers["x-amz-content-sha256"] == digest.hex()
    assert headers["x-amz-checksum-sha256"] == base64.b64encode(digest).decode()
    assert "Content-MD5" not in headers
    minio = s3_client.new_minio("127.0.0.1:9", "k", "s", secure=False, region="us-east-1")
    given = {**headers}
    built, _ = minio._build_headers("127.0.0.1:9", given, b"other bytes", Credentials("k", "s"))
    assert built["x-amz-content-sha256"] == digest.hex()  # not the hash of b"other bytes"
    assert built["Content-Length"] == str(len(b"other bytes"))
    md5 = s3_client.body_headers(body, Checksum.MD5)
    assert md5 == {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
