// Batch jobs: the caller's jobs (newest first), a new batch from a JSONL file, one job followed
// live as its items finish, and its failure-mode report with each item opening in the playground.

import { api, ndjson } from "./api.js";
import { el, fill, ms } from "./dom.js";
import { describe } from "./playground.js";
import { statusClass } from "./verdict.js";

const $ = (selector) => document.querySelector(selector);
const PAGE = 20;
// The fields of a submission; anything else on a line (notes, expected outcomes) is left out.
const SUBMISSION_FIELDS = ["id", "code", "statement", "proof", "target", "answer_holes",
  "environment", "timeout", "policy", "allowed_axioms", "input"];

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function outcomeOf(result) {
  return result.verdict ? result.verdict.status : `error: ${result.error.error}`;
}

// Why an item ended as it did: the policy rules it broke (each once), then the verdict's reason.
function whyOf(result) {
  if (!result.verdict) return result.error.message;
  const rules = [...new Set((result.verdict.violations || []).map((v) => v.rule))];
  return [rules.map((rule) => [el("code", { class: "rule" }, rule), " "]), result.verdict.reason];
}

function barFill(name, share) {
  const bar = el("span", { class: `bar-fill ${statusClass(name)}` });
  bar.style.width = `${Math.round(100 * share)}%`; // the page's policy allows styles set by script
  return bar;
}

function bars(title, counts, id) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
  const entries = Object.entries(counts);
  return el("section", { class: "block", id },
    el("h4", {}, title),
    entries.length ? el("ul", { class: "bars" }, entries.map(([name, count]) => el("li", {},
      el("span", { class: "bar-label" }, name),
      el("span", { class: "bar", role: "img", "aria-label": `${count} of ${total}` },
        barFill(name, count / total)),
      el("span", { class: "bar-count" }, String(count)))))
      : el("p", { class: "muted" }, "none"));
}

export class Jobs {
  constructor({ openItem }) {
    this.openItem = openItem;
    this.list = $("#job-list");
    this.detail = $("#job");
    this.error = $("#jobs-error");
    this.offset = 0;
    this.following = null; // the job id being followed
    $("#batch-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.startBatch($("#batch-file").files[0]);
    });
    $("#more-jobs").addEventListener("click", () => this.refresh({ more: true }));
  }

  async refresh({ more = false } = {}) {
    this.error.textContent = "";
    try {
      const page = await api(`/v1/jobs?limit=${PAGE}&offset=${more ? this.offset : 0}`);
      this.offset = page.next_offset || 0;
      $("#more-jobs").hidden = page.next_offset == null;
      const rows = page.jobs.map((job) => this.row(job));
      if (!more) {
        this.list.replaceChildren(page.jobs.length
          ? el("table", { id: "job-table" },
            el("thead", {}, el("tr", {}, ["Job", "Created", "Status", "Progress"].map(
              (name) => el("th", { scope: "col" }, name)))),
            el("tbody", {}, rows))
          : el("p", { id: "no-jobs", class: "muted" }, "No jobs yet (under this key)."));
      } else {
        this.list.querySelector("tbody").append(...rows);
      }
    } catch (error) {
      this.error.textContent = describe(error);
    }
  }

  row(job) {
    return el("tr", { dataset: { job: job.id } },
      el("td", {}, el("a", { href: `#/jobs/${job.id}` }, el("code", {}, job.id.slice(0, 12)))),
      el("td", {}, when(job.created_at)),
      el("td", {}, el("span", { class: statusClass(job.status === "completed" ? "ok" : job.status) },
        job.status)),
      el("td", {}, el("progress", { max: job.counts.total, value: job.counts.done },
        `${job.counts.done} of ${job.counts.total}`), ` ${job.counts.done}/${job.counts.total}`));
  }

  async startBatch(file) {
    this.error.textContent = "";
    if (!file) {
      this.error.textContent = "Choose a JSONL file first: one submission a line.";
      return;
    }
    const items = [];
    for (const [number, line] of (await file.text()).split("\n").entries()) {
      if (!line.trim()) continue;
      try {
        const raw = JSON.parse(line);
        items.push(Object.fromEntries(SUBMISSION_FIELDS.filter((k) => k in raw).map((k) => [k, raw[k]])));
      } catch {
        this.error.textContent = `Line ${number + 1} of ${file.name} is not JSON: fix it and try again.`;
        return;
      }
    }
    try {
      const job = await api("/v1/batch", { method: "POST", body: { items } });
      window.location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      this.error.textContent = describe(error);
    }
  }

  async show(jobId) {
    this.following = jobId;
    this.detail.replaceChildren(el("p", { class: "muted" }, "Loading the job..."));
    try {
      let job = await api(`/v1/jobs/${jobId}`);
      const progress = el("progress", { id: "job-progress", max: job.counts.total, value: job.counts.done });
      const counter = el("span", { id: "job-count" }, `${job.counts.done} of ${job.counts.total} done`);
      const status = el("span", { id: "job-status", class: statusClass(job.status) }, job.status);
      this.detail.replaceChildren(
        el("h3", {}, "Job ", el("code", {}, job.id)),
        el("p", {}, status, " ", progress, " ", counter),
        el("div", { id: "job-report" }));
      if (job.counts.pending > 0) {
        let seen = 0; // the stream gives every finished item, then each one as it finishes
        for await (const line of ndjson(`/v1/jobs/${jobId}/results?stream=true&follow=true`)) {
          if (this.following !== jobId || line.index === undefined) return; // another job opened
          seen += 1;
          progress.value = Math.min(job.counts.total, seen);
          counter.textContent = `${progress.value} of ${job.counts.total} done`;
        }
        job = await api(`/v1/jobs/${jobId}`);
      }
      status.textContent = job.status;
      status.className = statusClass(job.status === "completed" ? "ok" : job.status);
      progress.value = job.counts.done;
      counter.textContent = `${job.counts.done} of ${job.counts.total} done`;
      await this.report(jobId);
      this.refresh();
    } catch (error) {
      this.detail.replaceChildren(el("p", { class: "error", role: "alert" }, describe(error)));
    }
  }

  async report(jobId) {
    const [failures, results] = await Promise.all([
      api(`/v1/jobs/${jobId}/failures`),
      api(`/v1/jobs/${jobId}/results`),
    ]);
    const names = new Map(results.map((r) => [String(r.index), r.id || `#${r.index}`]));
    const itemLink = (index, text) => el("a", { href: `#/jobs/${jobId}/items/${index}` }, text);
    const cheats = Object.entries(failures.cheats).filter(([, found]) => Object.keys(found).length);
    fill($("#job-report"),
      el("h4", {}, "Failure modes"),
      el("div", { class: "charts" },
        bars("Outcomes", failures.outcomes, "outcome-chart"),
        bars("Error categories (items with one)", failures.categories, "category-chart")),
      cheats.length ? el("section", { class: "block" }, el("h4", {}, "Cheats caught"),
        el("ul", {}, cheats.map(([kind, found]) => el("li", {}, el("strong", {}, kind), ": ",
          Object.entries(found).map(([name, count]) => `${name} (${count})`).join(", ")))))
        : null,
      failures.messages.length ? el("section", { class: "block" },
        el("h4", {}, "Most frequent errors"),
        el("ol", {}, failures.messages.map((group) => el("li", {},
          el("code", {}, group.pattern), ` [${group.category}] x${group.count}: `,
          group.examples.map((example) => itemLink(example.item, names.get(example.item) || example.item))
            .flatMap((link, i) => (i ? [", ", link] : [link]))))))
        : null,
      el("section", { class: "block" }, el("h4", {}, "Items"),
        el("table", { id: "item-table" },
          el("thead", {}, el("tr", {}, ["Item", "Outcome", "Why", "Time"].map(
            (name) => el("th", { scope: "col" }, name)))),
          el("tbody", {}, results.map((result) => el("tr", { dataset: { item: result.index } },
            el("td", {}, itemLink(result.index, result.id || `#${result.index}`)),
            el("td", {}, el("span", { class: statusClass(outcomeOf(result)) }, outcomeOf(result))),
            el("td", { class: "why" }, whyOf(result)),
            el("td", {}, result.verdict ? ms(result.verdict.timings.total_ms) : "")))))));
  }

  async openItemOf(jobId, index) {
    try {
      const item = await api(`/v1/jobs/${jobId}/items/${index}`);
      if (!item.submission) {
        this.error.textContent = `Item ${index} was not a valid submission: ${item.result.error.message}`;
        return;
      }
      this.openItem(item, jobId);
    } catch (error) {
      this.error.textContent = describe(error);
    }
  }
}
