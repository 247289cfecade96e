"""Exhibit content: ingest (PUT and tus), reading, re-verification, disposal, recovery.

    values     what a client says about content, parsed; how stored content is shown
    access     who may touch an exhibit's content; GET …/content
    ingest     the three steps of every write to the store (ADR 0003, ADR 0012); PUT
    uploads    tus uploads, finished by the same steps
    integrity  re-reading stored content: POST …/verify, `jitc scrub`, legal holds
    disposal   POST …/dispose
    recovery   the sweep of writes a crash or a client left behind

The evidence store's errors pass through unchanged; `server.api.errors` answers them.
"""

from server.services.content.access import (
    Download,
    download,
    exhibit_content,
)
from server.services.content.disposal import Disposed, dispose, is_disposed, precheck_disposal
from server.services.content.ingest import MAX_WRITES_PER_EXHIBIT, Ingested, ingest_stream
from server.services.content.integrity import (
    VERIFY_RETRY_AFTER,
    ScrubReport,
    Verified,
    scrub,
    sync_store_hold,
    verify,
)
from server.services.content.recovery import SweepReport, sweep
from server.services.content.uploads import (
    UploadStatus,
    UploadView,
    append_upload,
    create_upload,
    patching,
    terminate_upload,
    upload_status,
)
from server.services.content.values import (
    ContentMeta,
    content_json,
    display_filename,
    parse_expected_sha256,
    parse_filename,
    parse_media_type,
    parse_purpose,
)

__all__ = [
    "MAX_WRITES_PER_EXHIBIT",
    "VERIFY_RETRY_AFTER",
    "ContentMeta",
    "Disposed",
    "Download",
    "Ingested",
    "ScrubReport",
    "SweepReport",
    "UploadStatus",
    "UploadView",
    "Verified",
    "append_upload",
    "content_json",
    "create_upload",
    "display_filename",
    "dispose",
    "download",
    "exhibit_content",
    "ingest_stream",
    "is_disposed",
    "parse_expected_sha256",
    "parse_filename",
    "parse_media_type",
    "parse_purpose",
    "patching",
    "precheck_disposal",
    "scrub",
    "sweep",
    "sync_store_hold",
    "terminate_upload",
    "upload_status",
    "verify",
]
