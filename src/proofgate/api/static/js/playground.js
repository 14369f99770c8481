// The playground: a statement and a proof (or a whole file), checked or triaged on this server,
// the verdict drawn under it, and a share link for the verdict.

import { api, ApiError } from "./api.js";
import { el } from "./dom.js";
import { LeanEditor } from "./editor.js";
import { showTriage, showVerdict } from "./verdict.js";

const $ = (selector) => document.querySelector(selector);

const BODY_LABELS = { proof: "Proof", code: "Whole file", free: "Whole file" };

export class Playground {
  constructor() {
    this.form = $("#check-form");
    this.statement = new LeanEditor($("#statement-field .editor"));
    this.body = new LeanEditor($("#body-field .editor"));
    this.result = $("#result");
    this.error = $("#playground-error");
    this.checked = null; // the submission the verdict shown was computed for
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.check();
    });
    this.form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.check();
      }
    });
    this.form.addEventListener("change", (event) => {
      if (event.target.name === "mode") this.setMode(event.target.value);
    });
    $("#triage").addEventListener("click", () => this.triage());
    $("#share").addEventListener("click", () => this.share());
    $("#open-file").addEventListener("change", (event) => this.openFile(event.target.files[0]));
    this.setMode("proof");
  }

  get mode() {
    return this.form.elements.mode.value;
  }

  setMode(mode) {
    this.form.elements.mode.value = mode;
    const field = mode === "proof" ? "proof" : "code";
    this.body.field = field;
    this.body.root.dataset.field = field;
    $("#body-label").textContent = BODY_LABELS[mode];
    $("#statement-field").hidden = mode === "free";
    $("#triage").disabled = mode === "free";
  }

  editors() {
    const editors = { [this.body.field] : this.body };
    if (this.mode !== "free") editors.statement = this.statement;
    return editors;
  }

  async loadEnvironments() {
    const select = $("#environment");
    const environments = await api("/v1/environments");
    select.replaceChildren(...environments.map((env) => el("option", { value: env.name },
      `${env.name} (Lean ${env.lean}${env.ready === false ? ", not ready" : ""})`)));
  }

  submission() {
    this.statement.finishAbbreviation();
    this.body.finishAbbreviation();
    const submission = { environment: $("#environment").value || "default" };
    if (this.mode !== "free") submission.statement = this.statement.value;
    submission[this.mode === "proof" ? "proof" : "code"] = this.body.value;
    return submission;
  }

  // Show a submission (and its verdict, when there is one) as if it had been typed here.
  load(submission, verdict) {
    const mode = submission.statement == null ? "free" : submission.proof != null ? "proof" : "code";
    this.setMode(mode);
    if (submission.statement != null) this.statement.value = submission.statement;
    this.body.value = (mode === "proof" ? submission.proof : submission.code) || "";
    if (submission.environment) $("#environment").value = submission.environment;
    this.clear();
    if (verdict) this.show(submission, verdict);
  }

  clear() {
    this.error.textContent = "";
    $("#share-link").replaceChildren();
    $("#share").disabled = true;
    this.checked = null;
  }

  show(submission, verdict) {
    showVerdict(this.result, verdict, this.editors(), { fallbackField: this.body.field });
    this.checked = submission;
    $("#share").disabled = false;
  }

  async run(button, work) {
    this.clear();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    this.result.replaceChildren(el("p", { class: "muted" }, "Checking..."));
    try {
      await work();
    } catch (error) {
      this.result.replaceChildren();
      this.error.textContent = describe(error);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  check() {
    const submission = this.submission();
    return this.run($("#check"), async () => {
      this.show(submission, await api("/v1/check", { method: "POST", body: submission }));
    });
  }

  triage() {
    const body = { statement: this.statement.value, environment: $("#environment").value };
    return this.run($("#triage"), async () => {
      const triage = await api("/v1/triage", { method: "POST", body });
      showTriage(this.result, triage, { statement: this.statement });
    });
  }

  async share() {
    const button = $("#share");
    const output = $("#share-link");
    button.disabled = true;
    try {
      const created = await api("/v1/shares", { method: "POST", body: { submission: this.checked } });
      const url = new URL(created.url, window.location.href).href;
      output.replaceChildren("Shared: ", el("a", { href: url, id: "share-url" }, url),
        " (anyone with this link can read this verdict and its submission)");
    } catch (error) {
      this.error.textContent = describe(error);
      button.disabled = false;
    }
  }

  async openFile(file) {
    if (!file) return;
    this.setMode(this.mode === "proof" ? "code" : this.mode);
    this.body.value = await file.text();
    this.clear();
  }
}

export function describe(error) {
  if (error instanceof ApiError) {
    const detail = error.body && error.body.detail;
    const fields = Array.isArray(detail)
      ? ` (${detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ")})` : "";
    return `${error.message}${fields}`;
  }
  return `The server could not be reached: ${error.message}`;
}
