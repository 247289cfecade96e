"""Render a verification report as text lines (CLI) or a self-contained HTML page (bundle).

Every string from the log is shown safely: HTML-escaped, and control or bidirectional
formatting characters (a right-to-left override in a filename, say) are shown as visible
`<U+202E>` marks instead of being interpreted.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Sequence

from custody.entry import Entry
from custody.verify import POLICY_FROM_BUNDLE, CheckResult, VerificationReport

MAX_TIMELINE_ROWS = 2000
_STATUS_WORD = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def visible(text: str, *, limit: int = 300) -> str:
    """Make control and format characters visible; shorten very long strings."""
    out = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"<U+{ord(char):04X}>")
        else:
            out.append(char)
    shown = "".join(out)
    if len(shown) > limit:
        shown = f"{shown[:limit]}... ({len(text)} characters)"
    return shown


def check_line(check: CheckResult) -> str:
    line = f"[{_STATUS_WORD[check.status]}] {check.number}. {check.id}: {check.title}"
    if check.status == "fail" and check.findings:
        more = check.finding_count - 1
        line += f" -- {visible(check.findings[0].message)}"
        if more:
            line += f" (+{more} more)"
    elif check.detail:
        line += f" ({check.detail})"
    return line


def text_lines(report: VerificationReport) -> list[str]:
    """The headline warning first (spec 6: a bundle resting on the log operator's key
    alone, or on the exporter's policy, says so in its first line), then one line per
    check, the other warnings, the policy source and the verdict."""
    headline = report.headline()
    lines = [] if headline is None else [visible(headline, limit=1000)]
    lines.extend(check_line(check) for check in report.checks)
    shown_first = {report.operator_only, POLICY_FROM_BUNDLE if headline else None}
    lines.extend(
        f"[WARN] {visible(warning.message)}"
        for warning in report.warnings
        if warning.message not in shown_first
    )
    source = (
        "given by the user"
        if report.policy_source == "user"
        else "taken from the bundle (the exporter's claim; give --policy to trust your own)"
    )
    # Witness names come from the policy, which may be the bundle's own: shown safely too.
    names = ", ".join(visible(name) for name in report.cosigners)
    cosigned = f"; cosigned by: {names}" if report.cosigners else ""
    lines.append(f"policy: {source}{cosigned}")
    lines.append(f"verdict: {'VERIFIED' if report.ok else 'FAILED'}")
    return lines


def _e(text: object) -> str:
    return html.escape(visible(str(text)), quote=True)


def render_html(
    report: VerificationReport,
    *,
    entries: Iterable[Entry] = (),
    policy_text: str = "",
    title: str = "Exporter's report, made at export",
) -> str:
    """The bundle's report.html: a self-contained page of case, parties, exhibits,
    timelines, checks and keys, as the exporter checked them when it made the bundle.

    spec 6: it is the exporter's own account, says so, and never says that the recipient
    has verified anything; the recipient verifies with their own tools and policy."""
    manifest = report.manifest
    entry_list: Sequence[Entry] = list(entries)
    parties: list[str] = []
    case_title = ""
    for entry in entry_list:
        if entry.type == "case.created":
            parties = list(entry.data.get("parties", []))
            case_title = str(entry.data.get("title", ""))
            break
    rows = []
    rows.append("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    rows.append(f"<title>{_e(title)}</title>")
    rows.append(
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#111}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px;"
        "text-align:left;vertical-align:top;font-size:90%}code{word-break:break-all}"
        ".pass{color:#060}.fail{color:#b00;font-weight:bold}.skip{color:#666}</style>"
    )
    rows.append("</head><body>")
    if report.operator_only is not None:
        # spec 6: a bundle resting on the log operator's key alone says so in its first line.
        rows.append(f"<p class='fail'>WARNING: {_e(report.operator_only)}</p>")
    rows.append(f"<h1>{_e(title)}</h1>")
    rows.append(
        "<p>This page is the exporter's own account of the checks it ran when it made this "
        "bundle. It is not a verification by the recipient, and it proves nothing on its "
        "own: whoever receives the bundle verifies it with their own tools and a policy "
        "obtained from each state's own authority (<code>jitc verify BUNDLE.zip --policy "
        "POLICY.txt</code>, or the browser verifier).</p>"
    )
    verdict = (
        "At export, every check the exporter ran passed"
        if report.ok
        else "At export, the exporter's checks found failures: see below"
    )
    rows.append(f"<p class='{'pass' if report.ok else 'fail'}'>{_e(verdict)}</p>")
    if manifest is not None:
        rows.append("<h2>Case</h2><table>")
        for label, value in (
            ("Case", manifest.case),
            ("Title", case_title),
            ("Parties", ", ".join(parties)),
            ("Log origin", manifest.origin),
            ("Bundle created", manifest.created),
            ("Disclosure", manifest.disclosure),
            ("Recipient", manifest.recipient),
            ("Tree size", manifest.tree_size),
            ("Log size when exported", manifest.log_size),
        ):
            rows.append(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>")
        rows.append("</table><h2>Exhibits</h2><table><tr><th>Id</th><th>Label</th>")
        rows.append("<th>Filename</th><th>Size</th><th>SHA-256 / BLAKE3</th><th>Content</th></tr>")
        rows.extend(
            f"<tr><td><code>{_e(exhibit.id)}</code></td><td>{_e(exhibit.label)}</td>"
            f"<td>{_e(exhibit.filename)}</td><td>{_e(exhibit.size)}</td>"
            f"<td><code>{_e(exhibit.sha256)}</code><br><code>{_e(exhibit.blake3)}</code>"
            f"</td><td>{_e(exhibit.content or 'hashes only')}</td></tr>"
            for exhibit in manifest.exhibits
        )
        rows.append("</table>")
    rows.append("<h2>Checks</h2><table><tr><th>#</th><th>Check</th><th>Result</th>")
    rows.append("<th>Findings</th></tr>")
    for check in report.checks:
        findings = "<br>".join(_e(finding.message) for finding in check.findings)
        if check.finding_count > len(check.findings):
            findings += f"<br>(+{check.finding_count - len(check.findings)} more)"
        rows.append(
            f"<tr><td>{check.number}</td><td>{_e(check.title)}</td>"
            f"<td class='{check.status}'>{_STATUS_WORD[check.status]}</td>"
            f"<td>{findings or _e(check.detail)}</td></tr>"
        )
    rows.append("</table>")
    # The exporter checked against the policy it wrote: "taken from the bundle" is no
    # warning of its own check (the recipient's verifier gives it to the recipient).
    warnings = [w for w in report.warnings if w.message != POLICY_FROM_BUNDLE]
    if warnings:
        rows.append("<h2>Warnings at export</h2><ul>")
        rows.extend(f"<li>{_e(warning.message)}</li>" for warning in warnings)
        rows.append("</ul>")
    if manifest is not None and entry_list:
        rows.append("<h2>Custody timelines</h2>")
        for exhibit in manifest.exhibits:
            rows.append(f"<h3>{_e(exhibit.label)} <code>{_e(exhibit.id)}</code></h3><table>")
            rows.append("<tr><th>seq</th><th>time (UTC)</th><th>event</th><th>by</th></tr>")
            shown = 0
            for entry in entry_list:
                if entry.exhibit != exhibit.id:
                    continue
                shown += 1
                if shown > MAX_TIMELINE_ROWS:
                    rows.append("<tr><td colspan='4'>(timeline truncated)</td></tr>")
                    break
                actor = entry.actor
                rows.append(
                    f"<tr><td>{entry.seq}</td><td>{_e(entry.time)}</td><td>{_e(entry.type)}"
                    f"</td><td>{_e(actor.jurisdiction)} / {_e(actor.sub)} ({_e(actor.role)})"
                    "</td></tr>"
                )
            rows.append("</table>")
    rows.append("<h2>Keys and policy</h2>")
    rows.append(
        "<p>The exporter checked the bundle against the case policy it put in the bundle "
        "(policy.txt, below): keys inside a bundle only say what the exporter claims. "
        "Cosigned by: "
    )
    rows.append(f"{_e(', '.join(report.cosigners) or 'no witness')}.</p>")
    policy_lines = (_e(line) for line in policy_text.splitlines())
    rows.append(f"<pre>{chr(10).join(policy_lines)}</pre>")
    rows.append(
        "<p>Verify this bundle independently: <code>jitc verify BUNDLE.zip --policy "
        "POLICY.txt</code>, with a policy obtained from each state's own authority.</p>"
    )
    rows.append("</body></html>")
    return "\n".join(rows)
