"""`verify_bundle`: the steps of spec 6 in order, over one court bundle."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from custody.bundle import CHECKPOINT, ENTRIES, MANIFEST, BundleReader, Manifest
from custody.checkpoint import Checkpoint
from custody.entry import parse_time
from custody.errors import EntryFormatError, FormatError, RootMismatchError, SignatureError
from custody.note import Note
from custody.replay import CaseState
from custody.verify import parallel, selective
from custody.verify.content import check_content
from custody.verify.full import FullWalk
from custody.verify.results import (
    CHECKS,
    CheckId,
    Mark,
    Recorder,
    VerificationReport,
    new_checks,
)
from custody.verify.selective import SelectiveWalk
from custody.verify.signatures import (
    check_checkpoint,
    check_logged_policy,
    load_policy,
    operator_only_warning,
)
from custody.verify.walk import EntryWalk

# The checks over the entries, which cannot pass on entries never read.
_ENTRY_CHECKS = (CheckId.LOG, CheckId.TIME, CheckId.EXHIBIT_CHAINS, CheckId.REPLAY)


def verify_bundle(
    source: str | Path | IO[bytes],
    *,
    policy_text: str | None = None,
    now: datetime | None = None,
    raise_on_failure: bool = False,
    parallel: bool | None = None,
) -> VerificationReport:
    """Verify a court bundle (spec 6). Raises BundleFormatError if it cannot be read at all.

    `policy_text`: a tlog-policy the user trusts; without it the bundle's own policy.txt is
    used, and the report says so (spec 5: keys inside a bundle only say what the exporter
    claims). `now` only stamps the report; nothing here reads a clock.

    `parallel`: the entries of a full bundle are walked on two processes where that is
    possible (custody.verify.parallel; the report is the same either way): None when
    entries.jsonl is large enough to gain from it, True whatever its size, False never.
    Raising mode always walks in one process.
    """
    with BundleReader(source) as reader:
        manifest, manifest_canonical = reader.manifest()
        check = _BundleCheck(reader, manifest, raising=raise_on_failure, parallel=parallel)
        report = check.report
        report.subject = str(source) if isinstance(source, str | Path) else "<stream>"
        report.verified_at = None if now is None else now.astimezone(UTC).isoformat()
        check.check_manifest(canonical=manifest_canonical)
        # spec 6.5 first: the checkpoint gives the root that check 2 compares against.
        checkpoint = check.check_signatures(policy_text)
        entries_read = check.walk_entries(checkpoint)
        check.check_content(entries_read=entries_read)
        check.check_logged_policy(policy_text, entries_read=entries_read)
        check.finish()
        return report


class _BundleCheck:
    """One verification of one bundle: the report, its recorder and the replayed case."""

    def __init__(
        self, reader: BundleReader, manifest: Manifest, *, raising: bool, parallel: bool | None
    ) -> None:
        self.reader = reader
        # Raising mode stops at the first failure: the one-process walk finds it first.
        self.parallel = False if raising else parallel
        self.manifest = manifest
        self.selective = manifest.disclosure == "selective"
        checks = new_checks(CHECKS, selective=self.selective)
        self.rec = Recorder(checks, raising=raising)
        self.report = VerificationReport(
            subject="", kind="bundle", checks=checks, manifest=manifest
        )
        self.walk: EntryWalk | None = None
        self.bundle_policy: str | None = None

    def check_manifest(self, *, canonical: bool) -> None:
        """spec 6.1 for the manifest: canonical, a readable `created`, the case's origin."""
        manifest, rec = self.manifest, self.rec
        if not canonical:
            rec.fail(CheckId.FORMAT, EntryFormatError, f"{MANIFEST} is not RFC 8785 canonical")
        try:
            parse_time(manifest.created)
        except EntryFormatError:
            # The stale-cosignature warning compares against `created`; an unreadable one
            # must not silently switch that warning off.
            rec.fail(
                CheckId.FORMAT,
                EntryFormatError,
                f"manifest created {manifest.created!r} is not RFC 3339 UTC with microseconds"
                " and Z (the format of entry times, spec 2)",
            )
        if self.selective:
            rec.detail(CheckId.LOG, selective.DETAIL)
            rec.detail(CheckId.REPLAY, selective.REPLAY_DETAIL)
        # spec 5: log_size is the log's size when the bundle was made, never below tree_size.
        if manifest.log_size < manifest.tree_size:
            rec.fail(
                CheckId.FORMAT,
                EntryFormatError,
                f"manifest log_size {manifest.log_size} is below its tree_size "
                f"{manifest.tree_size}",
            )
        elif manifest.log_size > manifest.tree_size:
            rec.warn(
                CheckId.LOG,
                f"the bundle stops at entry {manifest.tree_size} of {manifest.log_size}: the "
                f"log held {manifest.log_size - manifest.tree_size} newer entries when it was "
                "made (it stops at the newest checkpoint that met the case policy)",
            )
        if not manifest.origin.endswith(f"/case/{manifest.case}"):
            rec.fail(
                CheckId.FORMAT,
                EntryFormatError,
                f"origin {manifest.origin!r} is not '<log name>/case/{manifest.case}'",
            )

    def check_signatures(self, policy_text: str | None) -> Checkpoint | None:
        """spec 6.5: the trusted policy, the checkpoint note, its signatures and quorum."""
        rec, report = self.rec, self.report
        policy, report.policy_source, self.bundle_policy = load_policy(
            self.reader, policy_text, rec
        )
        note = self._read_checkpoint_note()
        checkpoint: Checkpoint | None = None
        if note is not None:
            checkpoint, report.cosigners = check_checkpoint(
                note, policy, self.manifest.origin, self.manifest.created, rec
            )
        report.checkpoint = checkpoint
        report.operator_only = operator_only_warning(policy, report.cosigners)
        if report.operator_only is not None:
            rec.warn(CheckId.SIGNATURES, report.operator_only)
        if checkpoint is not None and checkpoint.size != self.manifest.tree_size:
            rec.fail(
                CheckId.LOG,
                RootMismatchError,
                f"checkpoint size {checkpoint.size} is not the manifest's tree_size "
                f"{self.manifest.tree_size}",
            )
        return checkpoint

    def _read_checkpoint_note(self) -> Note | None:
        if not self.reader.has(CHECKPOINT):
            self.rec.fail(CheckId.SIGNATURES, SignatureError, f"{CHECKPOINT} is missing")
            return None
        try:
            return Note.parse(self.reader.read(CHECKPOINT))
        except FormatError as exc:
            self.rec.fail(
                CheckId.SIGNATURES, SignatureError, f"checkpoint note is malformed: {exc}"
            )
            return None

    def walk_entries(self, checkpoint: Checkpoint | None) -> bool:
        """spec 6.1-6.4 and 6.7 in one streaming pass; return whether every line was read."""
        if not self.reader.has(ENTRIES):
            self.rec.fail(CheckId.FORMAT, EntryFormatError, f"{ENTRIES} is missing")
            read = False
        else:
            mark = self.rec.mark()
            walk, read = self._walk(checkpoint, mark)
            self.walk = walk
            if read:
                self.report.entries = walk.count
            else:
                # A member that proves corrupt (bad CRC, bad deflate, a lying size) part way:
                # nothing read from it counts, however much was read before it showed.
                self.rec.rewind(mark)
                self.rec.fail(CheckId.FORMAT, EntryFormatError, walk.read_error)
                walk.case = CaseState()
        if not read:
            for check_id in _ENTRY_CHECKS:
                self.rec.skip(check_id, f"{ENTRIES} is missing or could not be read to its end")
        return read

    def _walk(self, checkpoint: Checkpoint | None, mark: Mark) -> tuple[EntryWalk, bool]:
        """One pass over entries.jsonl; the walk and whether the member was read to its end."""
        if not self.selective and parallel.wanted(self.reader, self.parallel):
            shared = parallel.walk(self.reader, self.manifest, checkpoint, self.rec)
            if shared is not None:
                return shared
            self.rec.rewind(mark)  # the log was not proven: its report is one process's
        walk: EntryWalk = (
            SelectiveWalk(self.manifest, checkpoint, self.rec, self.reader)
            if self.selective
            else FullWalk(self.manifest, checkpoint, self.rec)
        )
        # Closed here, not by the garbage collector, when raising mode stops the walk.
        with closing(self.reader.line_blocks(ENTRIES)) as blocks:
            read = walk.run(blocks)
        return walk, read

    def check_content(self, *, entries_read: bool) -> None:
        """spec 6.6, against the exhibit.ingested entries the walk replayed."""
        case = self.walk.case if self.walk is not None else CaseState()
        check_content(self.reader, self.manifest, case, self.rec, entries_read=entries_read)

    def check_logged_policy(self, policy_text: str | None, *, entries_read: bool) -> None:
        """spec 5 / 6.5: policy.txt against the newest case.policy_set the walk replayed."""
        if self.walk is None or not entries_read:
            return
        case = self.walk.case
        check_logged_policy(self.bundle_policy, case.policy, case.policy_seq, policy_text, self.rec)

    def finish(self) -> None:
        self.report.warnings = self.rec.warnings
        if self.rec.passed(CheckId.CONTENT) and not any(
            exhibit.content for exhibit in self.manifest.exhibits
        ):
            self.rec.detail(CheckId.CONTENT, "no content included (hashes only)")
