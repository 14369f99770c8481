// A verdict (or a triage) drawn for people: the status and its reason, every message with its
// place and goals, the sorries' goals, the policy refusals with their rule and fix, the axioms
// and the timings; and each placed message underlined in the field it points into.

import { el, fill, ms } from "./dom.js";

const SUCCESS = new Set(["proved", "compiled", "ok"]);
const UNFINISHED = new Set(["timeout", "out_of_memory", "internal"]);

export function statusClass(status) {
  if (SUCCESS.has(status)) return "status status-good";
  if (UNFINISHED.has(status)) return "status status-service";
  return "status status-bad";
}

function where(pos) {
  return pos ? `line ${pos.line}, column ${pos.column}` : "no position";
}

function goalsBlock(goals, title) {
  if (!goals || !goals.length) return null;
  return el("div", { class: "goals" },
    el("p", { class: "goals-title" }, title),
    goals.map((goal) => el("pre", { class: "goal" }, goal)));
}

// Entries of the message list: Lean's messages, then the sorries with their goals.
function entries(verdict) {
  const found = (verdict.messages || []).map((m) => ({
    severity: m.severity, label: `${m.severity} [${m.category}]`, text: m.text, pos: m.pos,
    end: m.end_pos, source: m.source, goals: m.goals || [],
  }));
  for (const s of verdict.sorries || []) {
    found.push({
      severity: "sorry", label: "sorry", text: "the goal this `sorry` leaves open",
      pos: s.pos, end: s.end_pos, source: s.source, goals: [s.goal],
    });
  }
  return found;
}

function diagnosticsFor(list, editors, fallbackField) {
  const byField = new Map(Object.keys(editors).map((field) => [field, []]));
  for (const entry of list) {
    if (!entry.pos) continue;
    const field = byField.has(entry.source) ? entry.source : fallbackField;
    if (!byField.has(field)) continue;
    const goal = entry.goals.length ? `\n${entry.goals.join("\n\n")}` : "";
    byField.get(field).push({
      line: entry.pos.line, column: entry.pos.column,
      endLine: entry.end && entry.end.line, endColumn: entry.end && entry.end.column,
      severity: entry.severity, label: entry.label, text: entry.text + goal,
    });
  }
  for (const [field, list] of byField) editors[field].setDiagnostics(list);
}

function messageList(list, editors, fallbackField) {
  if (!list.length) return el("p", { class: "muted" }, "Lean reported no messages.");
  return el("ol", { class: "messages", id: "messages" }, list.map((entry) => {
    const field = entry.source in editors ? entry.source : fallbackField;
    const jump = entry.pos && editors[field]
      ? el("button", {
        type: "button", class: "link",
        onclick: () => editors[field].reveal(entry.pos.line, entry.pos.column),
      }, `${field} ${where(entry.pos)}`)
      : el("span", { class: "muted" }, where(entry.pos));
    return el("li", { class: `message message-${entry.severity}` },
      el("p", {}, jump, " ", el("strong", {}, entry.label), " "),
      el("pre", { class: "message-text" }, entry.text),
      goalsBlock(entry.goals, entry.severity === "sorry" ? "Goal" : "Goals at this error"));
  }));
}

function violationsTable(violations) {
  if (!violations || !violations.length) return null;
  return el("section", { class: "block", "aria-labelledby": "violations-title" },
    el("h3", { id: "violations-title" }, "Policy refusals"),
    el("table", { id: "violations" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Rule"),
        el("th", { scope: "col" }, "Where"), el("th", { scope: "col" }, "Why, and what to do"))),
      el("tbody", {}, violations.map((v) => el("tr", {},
        el("td", {}, el("code", {}, v.rule)),
        el("td", {}, `line ${v.line}, column ${v.column}`),
        el("td", {}, v.message))))));
}

const STAGES = ["queue_ms", "policy_ms", "elaboration_ms", "probes_ms", "repl_ms", "audit_ms", "total_ms"];

function timingsList(timings) {
  const order = (name) => (STAGES.includes(name) ? STAGES.indexOf(name) : STAGES.length);
  const sorted = Object.entries(timings || {}).sort(([a], [b]) => order(a) - order(b));
  const rows = sorted.map(([name, value]) =>
    [el("dt", {}, name.replace(/_ms$/, "")), el("dd", {}, ms(value))]);
  return el("dl", { class: "pairs", id: "timings" }, rows);
}

// Draw `verdict` into `box`; underline its messages in `editors` ({field: LeanEditor}).
export function showVerdict(box, verdict, editors, { fallbackField = "proof" } = {}) {
  const list = entries(verdict);
  diagnosticsFor(list, editors, fallbackField);
  fill(box,
    el("p", { class: "verdict-line" },
      el("span", { id: "verdict-status", class: statusClass(verdict.status) }, verdict.status),
      verdict.target ? el("span", {}, " for ", el("code", {}, verdict.target)) : null,
      verdict.cached ? el("span", { class: "muted" }, " (from the result cache)") : null),
    el("p", { id: "verdict-reason", class: "reason" }, verdict.reason),
    violationsTable(verdict.violations),
    el("section", { class: "block", "aria-labelledby": "messages-title" },
      el("h3", { id: "messages-title" }, "Messages and goals"),
      messageList(list, editors, fallbackField)),
    el("section", { class: "block", "aria-labelledby": "axioms-title" },
      el("h3", { id: "axioms-title" }, "Axioms the target reaches"),
      verdict.axioms && verdict.axioms.length
        ? el("ul", { id: "axioms", class: "inline-list" },
          verdict.axioms.map((a) => el("li", {}, el("code", {}, a))))
        : el("p", { class: "muted" }, "none reported")),
    el("section", { class: "block", "aria-labelledby": "timings-title" },
      el("h3", { id: "timings-title" }, "Timings"), timingsList(verdict.timings)),
  );
}

// Draw a triage result: does the statement elaborate, and is it trivial, false or vacuous?
export function showTriage(box, triage, editors) {
  const messages = (triage.messages || []).map((m) => ({ ...m, source: "statement" }));
  const list = entries({ messages, sorries: [] });
  diagnosticsFor(list, editors, "statement");
  const flags = ["trivially_provable", "disproved", "vacuous"].filter((flag) => triage[flag]);
  fill(box,
    el("p", { class: "verdict-line" },
      el("span", { id: "verdict-status", class: statusClass(triage.elaboration) },
        `triage: ${triage.elaboration}`),
      flags.map((flag) => el("span", { class: "status status-bad flag" }, flag))),
    el("p", { id: "verdict-reason", class: "reason" }, triage.reason),
    violationsTable(triage.violations),
    el("section", { class: "block", "aria-labelledby": "probes-title" },
      el("h3", { id: "probes-title" }, "Probes"),
      el("table", {},
        el("thead", {}, el("tr", {}, ["Probe", "Tactic", "Outcome", "Time"].map(
          (name) => el("th", { scope: "col" }, name)))),
        el("tbody", {}, (triage.probes || []).map((p) => el("tr", {},
          el("td", {}, p.kind), el("td", {}, el("code", {}, p.tactic)),
          el("td", {}, p.outcome, p.detail ? ` (${p.detail})` : ""), el("td", {}, ms(p.time_ms))))))),
    triage.negation_proof
      ? el("section", { class: "block" }, el("h3", {}, "Proof of the negation"),
        el("pre", { class: "goal" }, triage.negation_proof))
      : null,
    el("section", { class: "block", "aria-labelledby": "messages-title" },
      el("h3", { id: "messages-title" }, "Elaboration messages"),
      messageList(list, editors, "statement")),
    el("section", { class: "block" }, el("h3", {}, "Timings"), timingsList(triage.timings)),
  );
}
