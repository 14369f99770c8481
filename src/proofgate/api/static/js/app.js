// The console page: the key prompt, the two views (playground, jobs) and hash routes between them:
// #/ (playground), #/jobs, #/jobs/ID, #/jobs/ID/items/N (an item shown in the playground).

import { forgetKey, onKeyNeeded, storedKey } from "./api.js";
import { Jobs } from "./jobs.js";
import { describe, Playground } from "./playground.js";

const $ = (selector) => document.querySelector(selector);

let asking = null; // the prompt on screen: calls refused meanwhile wait for the same answer

// Ask for a key in the dialog; resolves with it, or null when the person cancels.
function askForKey(reason) {
  if (asking) return asking;
  const dialog = $("#key-dialog");
  $("#key-reason").textContent = reason;
  $("#key-input").value = "";
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = dialog.returnValue === "use" ? $("#key-input").value.trim() : "";
      if (key) $("#forget-key").hidden = false;
      resolve(key || null);
    }, { once: true });
    dialog.showModal();
  }).finally(() => {
    asking = null;
  });
  return asking;
}

function route(playground, jobs) {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const onJobs = parts[0] === "jobs" && parts[3] === undefined;
  $("#playground").hidden = onJobs;
  $("#jobs").hidden = !onJobs;
  $("#nav-playground").toggleAttribute("aria-current", !onJobs);
  $("#nav-jobs").toggleAttribute("aria-current", onJobs);
  if (onJobs) {
    jobs.refresh();
    if (parts[1]) jobs.show(parts[1]);
    else jobs.detail.replaceChildren();
  } else if (parts[0] === "jobs" && parts[2] === "items") {
    jobs.openItemOf(parts[1], Number(parts[3]));
  } else {
    $("#playground-title").textContent = "Check a proof";
  }
}

function start() {
  onKeyNeeded(askForKey);
  const playground = new Playground();
  const jobs = new Jobs({
    openItem: (item, jobId) => {
      playground.load(item.submission, item.result && item.result.verdict);
      $("#playground-title").textContent = `Item ${item.id || `#${item.index}`} of job ${jobId.slice(0, 12)}`;
    },
  });
  $("#forget-key").hidden = !storedKey();
  $("#forget-key").addEventListener("click", () => {
    forgetKey();
    $("#forget-key").hidden = true;
  });
  window.addEventListener("hashchange", () => route(playground, jobs));
  route(playground, jobs);
  playground.loadEnvironments().catch((error) => {
    $("#playground-error").textContent = describe(error);
  });
  document.body.dataset.ready = "true"; // the browser tests wait for this
}

start();
