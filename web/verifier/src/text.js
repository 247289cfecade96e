// The report as plain text, one line per check, as `jitc verify` prints it.

const MARK = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

export function headline(report) {
  if (report.unreadable) return `ERROR: the file could not be read as a court bundle: ${report.error}`;
  const verdict = report.ok ? "VERIFIED: every check passed" : "NOT VERIFIED: at least one check failed";
  const operator = report.operatorOnly ? "This bundle rests on the log operator's key alone (no witness cosignature counts). " : "";
  return `${operator}${verdict}`;
}

export function formatReport(report) {
  const lines = [headline(report)];
  if (report.unreadable) return lines.join("\n");
  lines.push(`policy: ${report.policySource === "user" ? "given by the user" : "taken from the bundle (policy.txt)"}`);
  for (const check of report.checks) {
    const first = check.findings.length ? ` -- ${check.findings[0].message}` : check.detail ? ` (${check.detail})` : "";
    lines.push(`[${MARK[check.status]}] ${check.number}. ${check.id}: ${check.title}${first}`);
    for (const finding of check.findings.slice(1)) lines.push(`       ${finding.message}`);
    if (check.findingCount > check.findings.length) lines.push(`       ... and ${check.findingCount - check.findings.length} more`);
  }
  for (const warning of report.warnings) lines.push(`warning (${warning.check}): ${warning.message}`);
  return lines.join("\n");
}
