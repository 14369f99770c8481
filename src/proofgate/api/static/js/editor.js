// A Lean text field: a plain <textarea> (so typing, selection and screen readers work as
// everywhere) over a backdrop that repeats its text with each diagnostic underlined. Hovering an
// underline, or moving the caret into one, shows its message; Lean's Unicode abbreviations are
// expanded as they are typed. A page declares only `<div class="editor" data-field=…>` around its
// <textarea id=…>; the editor builds the rest (backdrop, tooltip, status line) the same on every
// page.

import { el } from "./dom.js";
import { expansionAfterTyping, expansionAtEnd } from "./abbreviations.js";

// Lean positions count codepoints; JavaScript strings count UTF-16 units.
function unitOffset(lineText, column) {
  return Array.from(lineText).slice(0, column).join("").length;
}

function codepointColumn(lineText, units) {
  return Array.from(lineText.slice(0, units)).length;
}

export class LeanEditor {
  constructor(root, { readOnly = false } = {}) {
    this.root = root;
    this.field = root.dataset.field;
    this.textarea = root.querySelector("textarea");
    this.build();
    this.diagnostics = [];
    this.textarea.readOnly = readOnly;
    this.textarea.addEventListener("input", (event) => this.onInput(event));
    this.textarea.addEventListener("scroll", () => this.syncScroll());
    this.textarea.addEventListener("mousemove", (event) => this.onHover(event));
    this.textarea.addEventListener("mouseleave", () => this.hideTooltip());
    for (const name of ["keyup", "click", "focus"]) {
      this.textarea.addEventListener(name, () => this.onCaret());
    }
    this.textarea.addEventListener("blur", () => this.finishAbbreviation());
    this.render();
  }

  // The parts around the textarea. Lean source is code: no wrapping (the backdrop's lines must
  // stay the textarea's), no spelling marks, no capital at a line's start.
  build() {
    const textarea = this.textarea;
    textarea.wrap = "off";
    textarea.spellcheck = false;
    textarea.setAttribute("autocapitalize", "off");
    this.highlights = el("div", { class: "editor-highlights" });
    textarea.before(el("div", { class: "editor-backdrop", "aria-hidden": "true" }, this.highlights));
    this.tooltip = el("div", { role: "tooltip", class: "tooltip", hidden: true });
    textarea.after(this.tooltip);
    const statusId = `${textarea.id}-status`;
    this.status = el("p", { class: "editor-status", id: statusId, "aria-live": "polite" });
    this.root.after(this.status);
    const described = textarea.getAttribute("aria-describedby");
    textarea.setAttribute("aria-describedby", described ? `${statusId} ${described}` : statusId);
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.setDiagnostics([]);
  }

  onInput(event) {
    if (event.inputType === "insertText" && event.data && event.data.length === 1) {
      this.apply(expansionAfterTyping(this.textarea.value, this.textarea.selectionStart));
    }
    if (this.diagnostics.length) this.setDiagnostics([]); // they described the old text
    else this.render();
  }

  // Finish an abbreviation left at the caret (before a check, or when leaving the field).
  finishAbbreviation() {
    if (this.textarea.readOnly) return;
    this.apply(expansionAtEnd(this.textarea.value, this.textarea.selectionStart));
  }

  apply(edit) {
    if (!edit) return;
    const caret = this.textarea.selectionStart;
    this.textarea.setRangeText(edit.insert, edit.start, edit.end, "preserve");
    const moved = caret - (edit.end - edit.start) + edit.insert.length;
    this.textarea.setSelectionRange(moved, moved);
    this.render();
  }

  // diagnostics: [{line, column, endLine?, endColumn?, severity, label, text}], Lean positions.
  setDiagnostics(diagnostics) {
    const lines = this.textarea.value.split("\n");
    const starts = [];
    let offset = 0;
    for (const line of lines) {
      starts.push(offset);
      offset += line.length + 1;
    }
    const at = (line, column) => {
      const index = Math.min(Math.max(line, 1), lines.length) - 1;
      return starts[index] + unitOffset(lines[index], column);
    };
    this.diagnostics = diagnostics
      .filter((d) => d.line >= 1 && d.line <= lines.length)
      .map((d) => {
        const start = at(d.line, d.column);
        let end = d.endLine ? at(d.endLine, d.endColumn) : start;
        if (end <= start) {
          // no end given: the word at the position (at least one character)
          const rest = this.textarea.value.slice(start).match(/^\S+/);
          end = start + Math.max(1, rest ? rest[0].length : 1);
        }
        return { ...d, start, end };
      })
      .sort((a, b) => a.start - b.start);
    this.render();
  }

  render() {
    const text = this.textarea.value;
    const box = this.highlights;
    box.replaceChildren();
    let cursor = 0;
    for (const [index, d] of this.diagnostics.entries()) {
      const start = Math.max(d.start, cursor);
      if (start >= d.end) continue; // overlaps an earlier one: that one is underlined
      box.append(text.slice(cursor, start));
      const mark = document.createElement("mark");
      mark.className = `diag diag-${d.severity}`;
      mark.dataset.index = String(index);
      mark.dataset.line = String(d.line);
      mark.textContent = text.slice(start, d.end);
      box.append(mark);
      cursor = d.end;
    }
    box.append(text.slice(cursor) + "\n"); // a last empty line keeps its height
    this.syncScroll();
  }

  syncScroll() {
    this.highlights.style.transform =
      `translate(${-this.textarea.scrollLeft}px, ${-this.textarea.scrollTop}px)`;
  }

  onHover(event) {
    for (const mark of this.highlights.querySelectorAll("mark")) {
      for (const rect of mark.getClientRects()) {
        const inside = event.clientX >= rect.left && event.clientX <= rect.right &&
          event.clientY >= rect.top - 2 && event.clientY <= rect.bottom + 2;
        if (inside) {
          this.showTooltip(this.diagnostics[Number(mark.dataset.index)], rect);
          return;
        }
      }
    }
    this.hideTooltip();
  }

  showTooltip(diagnostic, rect) {
    const host = this.root.getBoundingClientRect();
    this.tooltip.textContent = `${diagnostic.label}: ${diagnostic.text}`;
    this.tooltip.style.left = `${Math.max(0, rect.left - host.left)}px`;
    this.tooltip.style.top = `${rect.bottom - host.top + 4}px`;
    this.tooltip.hidden = false;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
  }

  // The message under the caret, in the status line under the field (read by screen readers).
  onCaret() {
    const caret = this.textarea.selectionStart;
    const before = this.textarea.value.slice(0, caret).split("\n");
    const line = before.length;
    const column = codepointColumn(before[before.length - 1], before[before.length - 1].length);
    const here = this.diagnostics.find((d) => caret >= d.start && caret <= d.end);
    this.status.textContent = here
      ? `Line ${line}, column ${column}. ${here.label}: ${here.text.split("\n")[0]}`
      : `Line ${line}, column ${column}.`;
  }

  // Put the caret at a Lean position and bring the field into view.
  reveal(line, column) {
    const lines = this.textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line, lines.length) - 1; i += 1) offset += lines[i].length + 1;
    const target = lines[Math.min(line, lines.length) - 1] || "";
    offset += unitOffset(target, column);
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset);
    this.onCaret();
  }
}
