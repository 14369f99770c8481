// The read-only view of a shared verdict (/r/ID): the record's verdict over its submission, the
// pins, hashes and signature, and the command that replays it.

import { el } from "./dom.js";
import { LeanEditor } from "./editor.js";
import { showVerdict } from "./verdict.js";

const $ = (selector) => document.querySelector(selector);

const SIGNATURES = {
  valid: "valid: signed by this server's report key",
  invalid: "INVALID: the record was changed after it was signed",
  unknown_key: "signed with another key than this server's",
  missing: "missing",
};

function pairs(box, rows) {
  box.replaceChildren(...rows.filter(([, value]) => value != null && value !== "")
    .flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, el("code", {}, String(value)))]));
}

async function start() {
  const shareId = window.location.pathname.split("/").filter(Boolean)[1];
  const response = await fetch(`/r/${shareId}/record.json`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    $("#share-error").textContent = (body && body.message) || `The server answered ${response.status}.`;
    return;
  }
  const { record, signature } = body;
  const submission = record.submission;
  const proofMode = submission.proof != null;
  const statement = new LeanEditor($("#statement-field .editor"), { readOnly: true });
  const bodyEditor = new LeanEditor($("#body-field .editor"), { readOnly: true });
  bodyEditor.field = proofMode ? "proof" : "code";
  $("#body-label").textContent = proofMode ? "Proof" : "Whole file";
  $("#statement-field").hidden = submission.statement == null;
  statement.value = submission.statement || "";
  bodyEditor.value = (proofMode ? submission.proof : submission.code) || "";
  const editors = { [bodyEditor.field]: bodyEditor };
  if (submission.statement != null) editors.statement = statement;
  $("#record").hidden = false;
  showVerdict($("#result"), record.verdict, editors, { fallbackField: bodyEditor.field });
  pairs($("#pins"), [
    ...Object.entries(record.pins || {}).filter(([, v]) => typeof v !== "object"),
    ["policy profile", record.policy_profile],
    ["allowed axioms", (record.allowed_axioms || []).join(", ")],
    ["exported", `${record.created_at} by proofgate ${(record.exported_by || {}).proofgate}`],
    ["item", record.item_id],
  ]);
  pairs($("#hashes"), [
    ...Object.entries(record.hashes || {}).map(([name, value]) => [`${name} sha256`, value]),
    ["signature", `${record.signature.algorithm}, key id ${record.signature.key_id}`],
    ["signature check", SIGNATURES[signature] || signature],
  ]);
  const report = new URL(`/r/${shareId}/report.md`, window.location.href).href;
  $("#download").href = report;
  $("#replay-command").textContent =
    `curl -fsSL -o report.md '${report}'\nproofgate replay report.md`;
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  $("#share-error").textContent = `The record could not be read: ${error.message}`;
});
