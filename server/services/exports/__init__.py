"""Court bundles (spec 5; docs/adr/0022).

plan    what an export will hold, decided before a byte is written: who may ask,
        which witnessed checkpoint, which content, how much disk
writer  the bundle written, verified, and logged as export.created
jobs    exports made in the request or in the background; slots, disk, shutdown
access  the list, one export's status, and downloading a bundle
"""

from server.services.exports.access import (
    BundleFile,
    ExportView,
    bundle_file,
    export_status,
    list_exports,
    record_bundle_download,
)
from server.services.exports.jobs import (
    EXPORT_RETRY_AFTER,
    INTERRUPTED,
    PARTIAL_EXPORT_AGE,
    Background,
    create_export,
    interrupt_running_exports,
    start_export,
    sweep_partial_exports,
)
from server.services.exports.plan import (
    EXPORT_OVERHEAD,
    ExportRefusedError,
    ExportRequest,
    choose_checkpoint,
    export_estimate,
    parse_entries,
)
from server.services.exports.writer import ExportMade, exports_dir

__all__ = [
    "EXPORT_OVERHEAD",
    "EXPORT_RETRY_AFTER",
    "INTERRUPTED",
    "PARTIAL_EXPORT_AGE",
    "Background",
    "BundleFile",
    "ExportMade",
    "ExportRefusedError",
    "ExportRequest",
    "ExportView",
    "bundle_file",
    "choose_checkpoint",
    "create_export",
    "export_estimate",
    "export_status",
    "exports_dir",
    "interrupt_running_exports",
    "list_exports",
    "parse_entries",
    "record_bundle_download",
    "start_export",
    "sweep_partial_exports",
]
