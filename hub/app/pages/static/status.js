// Status page: polls /api/status with the pasted token (see common.js). Data is inserted with textContent
// only: dead-letter payloads and reasons may contain markup and must never be rendered as HTML.
"use strict";
const { $, cell, el, fill, getJson, newest, haveToken, hideError, showFailure, useTokenForm } = Hub;

function flag(id, ok, yes, no) {
  const node = $(id);
  node.textContent = ok ? yes : no;
  node.className = "state " + (ok ? "ok" : "bad");
}

// The status is re-read every few seconds: only the answer to the latest question is drawn.
const asking = newest();

async function refresh() {
  if (!haveToken("Paste a bearer token with the admin role to see the status.")) return;
  let s;
  const current = asking();
  try {
    // The charts (status-charts.js) keep the points they have and ask only for newer ones.
    const since = window.statusHistorySince ? window.statusHistorySince() : null;
    s = await getJson("/api/status" + (since ? "?history_since=" + since : ""));
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  flag("broker", s.broker_reachable, "reachable", "NOT reachable");
  flag("database", s.database_reachable, "reachable", "NOT reachable");
  $("dead-total").textContent = s.dead_letters_total;
  $("dead-total").className = "state " + (s.dead_letters_total ? "bad" : "ok");
  $("updated").textContent = new Date().toLocaleTimeString();
  fill("consumers", s.consumers, (tr, c) => {
    cell(tr, c.name);
    cell(tr, c.assigned === null ? "–" : (c.assigned ? "yes" : "NO"), c.assigned === false ? "bad" : "");
    cell(tr, c.per_second.toFixed(2), "num");
    cell(tr, c.total_lag === null ? "?" : c.total_lag, "num");
    cell(tr, c.max_lag_seconds === null ? "?" : c.max_lag_seconds.toFixed(1), c.max_lag_seconds > 300 ? "num bad" : "num");
    const behind = Object.entries(c.lag).filter(([, n]) => n > 0).map(([p, n]) => {
      const age = c.lag_seconds[p];
      return p + ": " + n + (age === null || age === undefined ? "" : " (" + age.toFixed(1) + " s)");
    });
    cell(tr, behind.length ? behind.join(", ") : "none");
  }, "none");
  fill("connectors", s.connectors, (tr, c) => {
    cell(tr, c.name); cell(tr, c.kind); cell(tr, c.facility_id);
    cell(tr, c.backlog, "num");
    cell(tr, c.backlog && c.oldest_unpublished_s !== null ? c.oldest_unpublished_s.toFixed(1) : "–", "num");
    cell(tr, c.rejected, "num");
    cell(tr, c.broker_up === null ? "–" : (c.broker_up ? "up" : "DOWN"), c.broker_up === false ? "bad" : "");
    cell(tr, c.last_event_at ? new Date(c.last_event_at * 1000).toLocaleTimeString() : "–");
  }, "none");
  const seconds = (v) => (v === null ? "–" : v.toFixed(3));
  fill("latency", s.latency, (tr, l) => {
    cell(tr, l.topic); cell(tr, l.events, "num"); cell(tr, seconds(l.p50_s), "num"); cell(tr, seconds(l.p99_s), "num");
  }, "none");
  fill("dead-letters", s.newest_dead_letters, (tr, d) => {
    cell(tr, d.created_at.slice(0, 19).replace("T", " ")); cell(tr, d.origin); cell(tr, d.stage);
    cell(tr, d.reason, "reason"); cell(tr, d.id);
  }, "none");
  parts(s.parts);
  // The charts of the last hour (status-charts.js) and any other section listen for each answer.
  document.dispatchEvent(new CustomEvent("hub:status", { detail: s }));
}

// Each part's own section (e.g. outbound delivery per destination): a titled table; flagged rows in red.
function parts(sections) {
  const zh = document.documentElement.lang.startsWith("zh");
  const holder = $("parts");
  holder.replaceChildren();
  for (const [name, p] of Object.entries(sections || {})) {
    const section = el("section");
    section.id = "part-" + name;
    section.appendChild(el("h2", zh ? p.title_zh : p.title_en));
    const table = el("table");
    const head = el("tr");
    for (const column of (zh && p.columns_zh.length ? p.columns_zh : p.columns)) head.appendChild(el("th", column));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    p.rows.forEach((row, i) => {
      const tr = el("tr", null, p.flagged.includes(i) ? "bad" : "");
      for (const value of row) cell(tr, value, typeof value === "number" ? "num" : "");
      body.appendChild(tr);
    });
    if (!p.rows.length) cell(body.appendChild(el("tr")), "none").colSpan = p.columns.length;
    section.appendChild(table);
    for (const note of p.notes) section.appendChild(el("p", note));
    holder.appendChild(section);
  }
}

useTokenForm(refresh);
refresh();
setInterval(refresh, 5000);
