// Referral loops page: monthly counts and open loops from /api/referrals with the pasted token.
// The token stays in sessionStorage (gone when the tab closes: it reads patient data), and all data
// is inserted with textContent only, never as HTML.
"use strict";
const KEY = "hub.token";
const $ = (id) => document.getElementById(id);
const STATES = { requested: "已申请 requested", accepted: "已接收 accepted", arrived: "已到达 arrived",
  returned: "已回转 returned", rejected: "已拒绝 rejected", cancelled: "已撤销 cancelled" };
const DIRECTIONS = { up: "上转 up", down: "下转 down", unknown: "不明 unknown" };
const CHINA_DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" });  // YYYY-MM-DD

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
    cell(tr, "none · 无");
    body.appendChild(tr);
  }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function getJson(path, token) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (response.status === 401 || response.status === 403) {
    let detail = "";
    try { detail = (await response.json()).issue[0].diagnostics; } catch (_) { /* not JSON */ }
    throw new Error("Token rejected (" + response.status + "): " + detail);
  }
  if (!response.ok) {
    let detail = "";
    try { detail = ": " + (await response.json()).issue[0].diagnostics; } catch (_) { /* not JSON */ }
    throw new Error("Request failed with HTTP " + response.status + detail);
  }
  return response.json();
}

async function refresh() {
  const token = sessionStorage.getItem(KEY);
  if (!token) { $("content").hidden = true; showError("Paste a bearer token with the clinician role to see referrals."); return; }
  const range = new URLSearchParams();
  if ($("from").value) range.set("from", $("from").value);
  if ($("to").value) range.set("to", $("to").value);
  let summary, open;
  try {
    [summary, open] = await Promise.all([
      getJson("/api/referrals/summary?" + range, token),
      getJson("/api/referrals?state=open&limit=500", token),
    ]);
  } catch (err) {
    if (err.message.startsWith("Token rejected")) $("content").hidden = true;
    showError(err.message.startsWith("Token") || err.message.startsWith("Request") ? err.message
      : "The hub did not answer: " + err.message);
    return;
  }
  $("error").hidden = true;
  $("content").hidden = false;
  $("range").textContent = summary.from + " – " + summary.to;
  fill("summary", summary.rows, (tr, r) => {
    cell(tr, r.month); cell(tr, r.facility);
    cell(tr, r.up, "num"); cell(tr, r.down, "num"); cell(tr, r.unknown, "num");
    cell(tr, r.open, r.open ? "num bad" : "num");
  });
  $("open-total").textContent = open.total > open.items.length
    ? "(" + open.items.length + " of " + open.total + ")" : "(" + open.total + ")";
  fill("open", open.items, (tr, r) => {
    cell(tr, r.id); cell(tr, r.patient_id || r.patient_key);
    cell(tr, r.requester_facility); cell(tr, r.target_facility);
    cell(tr, DIRECTIONS[r.direction] || r.direction); cell(tr, STATES[r.state] || r.state);
    cell(tr, CHINA_DAY.format(new Date(r.requested_at))); cell(tr, r.age_days, "num");
  });
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(KEY, value);
  $("token").value = "";
  refresh();
});
$("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); refresh(); });
$("months").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
refresh();
setInterval(refresh, 30000);
