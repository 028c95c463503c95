// Status page: polls /api/status with the pasted token (see common.js). Data is inserted with textContent
// only: dead-letter payloads and reasons may contain markup and must never be rendered as HTML.
"use strict";
const { $, cell, fill, getJson, haveToken, hideError, showFailure, useTokenForm } = Hub;

function flag(id, ok, yes, no) {
  const node = $(id);
  node.textContent = ok ? yes : no;
  node.className = "state " + (ok ? "ok" : "bad");
}

async function refresh() {
  if (!haveToken("Paste a bearer token with the admin role to see the status.")) return;
  let s;
  try {
    s = await getJson("/api/status");
  } catch (err) {
    showFailure(err);
    return;
  }
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
    const behind = Object.entries(c.lag).filter(([, n]) => n > 0).map(([p, n]) => p + ": " + n);
    cell(tr, behind.length ? behind.join(", ") : "none");
  }, "none");
  fill("connectors", s.connectors, (tr, c) => {
    cell(tr, c.name); cell(tr, c.kind); cell(tr, c.facility_id);
    cell(tr, c.backlog, "num"); cell(tr, c.rejected, "num");
    cell(tr, c.broker_up === null ? "–" : (c.broker_up ? "up" : "DOWN"), c.broker_up === false ? "bad" : "");
    cell(tr, c.last_event_at ? new Date(c.last_event_at * 1000).toLocaleTimeString() : "–");
  }, "none");
  fill("dead-letters", s.newest_dead_letters, (tr, d) => {
    cell(tr, d.created_at.slice(0, 19).replace("T", " ")); cell(tr, d.origin); cell(tr, d.stage);
    cell(tr, d.reason, "reason"); cell(tr, d.id);
  }, "none");
}

useTokenForm(refresh);
refresh();
setInterval(refresh, 5000);
