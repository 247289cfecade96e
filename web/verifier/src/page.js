// The page: pick a bundle (and a trusted policy), verify it here, show every check.
// Everything happens in this tab: the files are read with Blob.slice, never uploaded.

import { headline } from "./text.js";
import { verifyBundle } from "./verify.js";

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = { pass: "PASS", fail: "FAIL", skip: "SKIPPED" };

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showProgress({ stage, done, total }) {
  const progress = $("progress");
  progress.hidden = false;
  progress.max = Math.max(total, 1);
  progress.value = Math.min(done, total);
  const mib = (n) => (n / (1024 * 1024)).toFixed(1);
  $("status").textContent = stage === "content" ? `Hashing exhibit content: ${mib(done)} of ${mib(total)} MiB` : `Reading the custody log: ${mib(done)} of ${mib(total)} MiB`;
}

function render(report, bundleName, policyName) {
  const verdict = $("verdict");
  verdict.textContent = report.verdict === "pass" ? "VERIFIED: every check passed" : report.verdict === "fail" ? "NOT VERIFIED: at least one check failed" : "ERROR: the file cannot be read as a court bundle";
  // spec 6: a bundle resting on the log operator's key alone says so in the report's first line,
  // above the verdict.
  const operatorOnly = !report.unreadable && report.operatorOnly;
  $("operator-only").hidden = !operatorOnly;
  $("operator-only").textContent = operatorOnly ? headline(report).replace(/ ?(VERIFIED|NOT VERIFIED).*$/, "") : "";
  $("reason").textContent = report.unreadable ? report.error : "";
  $("policy-used").textContent = report.unreadable ? "" : report.policySource === "user" ? `Policy: yours (${policyName}), as given.` : "Policy: taken from the bundle (policy.txt). It says only what the sender claims; give a trusted policy to check against keys you trust.";
  const summary = $("summary");
  summary.replaceChildren();
  const rows = report.unreadable
    ? [["File", bundleName]]
    : [
        ["File", bundleName],
        ["Case", report.case],
        ["Log origin", report.origin],
        ["Disclosure", report.disclosure],
        ["Tree size", `${report.treeSize} (log size when made: ${report.logSize})`],
        ["Entries read", String(report.entries)],
        ["Witnesses that cosigned", report.cosigners.join(", ") || "none"],
        ["Recipient", report.recipient],
        ["Made", report.created],
      ];
  for (const [term, value] of rows) summary.append(element("dt", term), element("dd", value));
  const checks = $("checks");
  checks.replaceChildren();
  for (const check of report.checks) {
    const item = element("li");
    item.id = `check-${check.id}`;
    item.dataset.status = check.status;
    item.dataset.number = String(check.number);
    const head = element("p");
    head.append(element("span", STATUS_TEXT[check.status], `badge ${check.status}`), `${check.number}. ${check.id}: ${check.title}`);
    item.append(head);
    if (check.detail) item.append(element("p", check.detail, "detail"));
    if (check.findings.length) {
      const list = element("ul");
      for (const finding of check.findings) list.append(element("li", finding.message));
      if (check.findingCount > check.findings.length) list.append(element("li", `... and ${check.findingCount - check.findings.length} more`));
      item.append(list);
    }
    checks.append(item);
  }
  const warnings = $("warnings");
  warnings.replaceChildren();
  for (const warning of report.warnings) warnings.append(element("li", `(${warning.check}) ${warning.message}`));
  if (!report.warnings.length) warnings.append(element("li", "none"));
  $("details").hidden = report.unreadable;
  $("result").hidden = false;
  // Set last: tests and assistive technology read the verdict once it is final.
  verdict.dataset.verdict = report.verdict;
  $("result").focus();
}

async function run(event) {
  event.preventDefault();
  const bundle = $("bundle").files[0];
  if (!bundle) {
    $("status").textContent = "Choose the bundle's ZIP file first.";
    $("bundle").focus();
    return;
  }
  const policyFile = $("policy").files[0] || null;
  $("verify").disabled = true;
  $("result").hidden = true;
  $("verdict").dataset.verdict = "";
  $("status").textContent = "Verifying...";
  let report;
  try {
    const policy = policyFile === null ? null : new Uint8Array(await policyFile.arrayBuffer());
    report = await verifyBundle(bundle, { policy, onProgress: showProgress });
  } catch (error) {
    report = { verdict: "error", unreadable: true, error: `cannot read the chosen files: ${error && error.message}`, checks: [], warnings: [] };
  }
  $("progress").hidden = true;
  $("status").textContent = "Verification finished.";
  render(report, bundle.name, policyFile && policyFile.name);
  $("verify").disabled = false;
}

$("form").addEventListener("submit", run);
