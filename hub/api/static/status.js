// Status page: polls /api/status with the pasted token. Data is inserted with textContent only:
// dead-letter payloads and reasons may contain markup and must never be rendered as HTML.
"use strict";
const KEY = "hub.token";
const $ = (id) => document.getElementById(id);

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fill(tableId, rows, render) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    render(tr, item);
    body.appendChild(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    cell(tr, "none");
    body.appendChild(tr);
  }
}

function flag(id, ok, yes, no) {
  const el = $(id);
  el.textContent = ok ? yes : no;
  el.className = "state " + (ok ? "ok" : "bad");
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function refresh() {
  const token = localStorage.getItem(KEY);
  if (!token) { $("content").hidden = true; showError("Paste a bearer token with the admin role to see the status."); return; }
  let response;
  try {
    response = await fetch("/api/status", { headers: { Authorization: "Bearer " + token } });
  } catch (err) {
    showError("The hub did not answer: " + err.message);
    return;
  }
  if (response.status === 401 || response.status === 403) {
    let detail = "";
    try { detail = (await response.json()).issue[0].diagnostics; } catch (_) { /* not JSON */ }
    $("content").hidden = true;
    showError("Token rejected (" + response.status + "): " + detail);
    return;
  }
  if (!response.ok) { showError("Status request failed with HTTP " + response.status); return; }
  const s = await response.json();
  $("error").hidden = true;
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
    const behind = Object.entries(c.lag).filter(([, n]) => n > 0).map(([p, n]) => p + ": " + n);
    cell(tr, behind.length ? behind.join(", ") : "none");
  });
  fill("connectors", s.connectors, (tr, c) => {
    cell(tr, c.name); cell(tr, c.kind); cell(tr, c.facility_id);
    cell(tr, c.backlog, "num"); cell(tr, c.rejected, "num");
    cell(tr, c.broker_up === null ? "–" : (c.broker_up ? "up" : "DOWN"), c.broker_up === false ? "bad" : "");
    cell(tr, c.last_event_at ? new Date(c.last_event_at * 1000).toLocaleTimeString() : "–");
  });
  fill("dead-letters", s.newest_dead_letters, (tr, d) => {
    cell(tr, d.created_at.slice(0, 19).replace("T", " ")); cell(tr, d.origin); cell(tr, d.stage);
    cell(tr, d.reason, "reason"); cell(tr, d.id);
  });
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) localStorage.setItem(KEY, value);
  $("token").value = "";
  refresh();
});
$("forget").addEventListener("click", () => { localStorage.removeItem(KEY); refresh(); });
refresh();
setInterval(refresh, 5000);
