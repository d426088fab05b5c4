// The Ponto page's behaviour (an ES module Fava loads for the FavaPonto extension).
//
// Contract: every change goes through ctx.api (same-origin JSON POSTs the server
// checks); data from the server is put into the page with textContent only, never
// innerHTML. After a change the page's own server-rendered (autoescaped) HTML is
// fetched again and swapped in, so what is shown is always what the server knows.

const POLL_MS = 700;

/** The pending poll timer of the job progress, if any. */
let pollTimer = null;

function pageRoot() {
  return document.getElementById("ponto-page");
}

/** The page's language: the server puts the translations of every t("...") in data-strings. */
let strings = null;

/** `message` in the page's language, its %(name)s placeholders filled from `values`. */
function t(message, values = {}) {
  if (strings === null) {
    try {
      strings = JSON.parse(pageRoot()?.dataset.strings || "{}");
    } catch {
      strings = {};
    }
  }
  const text = strings[message] || message;
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The job box's title, e.g. "Sync done" (translated as whole phrases). */
function jobTitle(kind, state) {
  const titles = {
    sync: { running: t("Sync running…"), done: t("Sync done"), failed: t("Sync failed") },
    fetch: { running: t("Fetch running…"), done: t("Fetch done"), failed: t("Fetch failed") },
  };
  return (titles[kind] || titles.fetch)[state] || state;
}

/** Call an endpoint; always resolves to {success, data} or {success: false, error}. */
async function call(ctx, endpoint, method, body) {
  let response;
  try {
    response = await ctx.api.request(endpoint, method, undefined, body, "raw");
  } catch (error) {
    return { success: false, error: t("Fava could not be reached (%(reason)s)", { reason: error.message }) };
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (payload && typeof payload.success === "boolean") {
    return payload;
  }
  if (response.status === 401) {
    return {
      success: false,
      error: t("Fava runs read-only (--read-only): changes are disabled on this page."),
    };
  }
  return { success: false, error: t("Fava answered %(status)s", { status: response.status }) };
}

function say(text, ok) {
  const box = document.getElementById("ponto-message");
  if (!box) return;
  box.textContent = text;
  box.classList.toggle("ponto-ok", ok === true);
  box.classList.toggle("ponto-failed", ok === false);
}

/** Replace the page with a fresh server rendering (no auto-fetch for this one). */
async function refresh(ctx) {
  const url = new URL(window.location.href);
  url.searchParams.set("partial", "true");
  url.searchParams.set("ponto_refresh", "1");
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("ponto-page");
  const current = pageRoot();
  if (!fresh || !current) return;
  const message = document.getElementById("ponto-message");
  const keep = message ? [message.textContent, message.className] : null;
  current.replaceWith(document.importNode(fresh, true));
  if (keep) {
    const box = document.getElementById("ponto-message");
    box.textContent = keep[0];
    box.className = keep[1];
  }
  wire(ctx);
}

function showJob(job) {
  const box = document.getElementById("ponto-job");
  if (!box || !job) return;
  box.hidden = false;
  box.dataset.state = job.state;
  const title = box.querySelector(".ponto-job-title");
  const name = jobTitle(job.kind, job.state);
  title.textContent = job.state === "running" ? name : `${name}: ${job.summary}`;
  const list = box.querySelector(".ponto-job-messages");
  list.replaceChildren(
    ...job.messages.slice(-8).map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
  const accounts = box.querySelector(".ponto-job-accounts");
  accounts.replaceChildren(
    ...job.accounts.map((result) => {
      const item = document.createElement("li");
      item.textContent = result.summary;
      return item;
    }),
  );
}

function follow(ctx) {
  clearTimeout(pollTimer);
  const tick = async () => {
    const answer = await call(ctx, "job", "GET");
    if (!answer.success || !answer.data) {
      say(answer.error || t("No sync is running."), false);
      return;
    }
    const job = answer.data;
    showJob(job);
    if (job.state === "running") {
      pollTimer = setTimeout(tick, POLL_MS);
      return;
    }
    pollTimer = null;
    say(""); // the job box says the outcome, once
    const fresh = job.accounts.some((result) => Number(result.new) > 0);
    if (fresh) {
      // New entries: load the whole page again, so Fava's own data is fresh too
      // and its "File change detected" toast has nothing left to announce.
      window.location.reload();
      return;
    }
    await refresh(ctx);
  };
  pollTimer = setTimeout(tick, 0);
}

async function act(ctx, endpoint, body, busy, onError = (error) => say(error, false)) {
  if (busy) busy.disabled = true;
  say(t("Working…"));
  const answer = await call(ctx, endpoint, "POST", body);
  if (busy) busy.disabled = false;
  if (!answer.success) {
    say("");
    onError(answer.error);
    return null;
  }
  return answer.data;
}

/** A refused secret: said next to the form, in view, and no "works" badge stays. */
function credentialsRefused(error) {
  const box = document.getElementById("ponto-credentials-error");
  if (!box) {
    say(error, false);
    return;
  }
  box.textContent = error;
  box.hidden = false;
  for (const badge of document.querySelectorAll("#ponto-credentials .ponto-badge")) {
    badge.remove();
  }
  box.scrollIntoView({ block: "center" });
}

async function onClick(ctx, event) {
  const button = event.target.closest("button[data-action]");
  if (!button || !pageRoot()?.contains(button)) return;
  const { action, pontoId } = button.dataset;
  if (action === "sync") {
    const data = await act(ctx, "sync", {}, button);
    if (data) {
      say(data.started ? t("Sync started.") : t("A sync is already running; following it."));
      showJob(data.job);
      follow(ctx);
    }
  } else if (action === "link") {
    const select = pageRoot().querySelector(`select[data-ponto-id="${CSS.escape(pontoId)}"]`);
    if (!select || !select.value) {
      say(t("Choose a ledger account first."), false);
      return;
    }
    const data = await act(ctx, "link", { ponto_id: pontoId, account: select.value }, button);
    if (data) {
      say(data.message, true);
      await refresh(ctx);
    }
  } else if (action === "unlink") {
    const data = await act(ctx, "unlink", { ponto_id: pontoId }, button);
    if (data) {
      say(data.message, true);
      await refresh(ctx);
    }
  }
}

async function onSubmit(ctx, event) {
  const form = event.target;
  if (form.id !== "ponto-credentials-form") return;
  event.preventDefault();
  const secret = form.elements.client_secret;
  const body = { client_id: form.elements.client_id.value, client_secret: secret.value };
  const error = document.getElementById("ponto-credentials-error");
  if (error) error.hidden = true;
  const data = await act(ctx, "credentials", body, form.querySelector("button"), credentialsRefused);
  secret.value = "";
  if (data) {
    say(data.message, true);
    await refresh(ctx);
  }
}

/** Attach the handlers to the current page root (it is replaced on refresh). */
function wire(ctx) {
  const root = pageRoot();
  if (!root || root.dataset.wired) return;
  root.dataset.wired = "true";
  root.addEventListener("click", (event) => {
    onClick(ctx, event).catch((error) => say(String(error), false));
  });
  root.addEventListener("submit", (event) => {
    onSubmit(ctx, event).catch((error) => say(String(error), false));
  });
  if (root.dataset.jobState === "running" && pollTimer === null) {
    follow(ctx);
  }
}

export default {
  onExtensionPageLoad(ctx) {
    clearTimeout(pollTimer);
    pollTimer = null;
    wire(ctx);
  },
};
