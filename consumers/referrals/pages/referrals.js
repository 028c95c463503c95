// Referral loops page: monthly counts and open loops from /api/referrals with the pasted token, which
// common.js keeps in sessionStorage (gone when the tab closes: it reads patient data). All data is
// inserted with textContent only, never as HTML.
"use strict";
const { $, cell, fill, getJson, newest, haveToken, hideError, showFailure, useTokenForm, when } = Hub;
const STATES = { requested: "已申请 requested", accepted: "已接收 accepted", arrived: "已到达 arrived",
  returned: "已回转 returned", rejected: "已拒绝 rejected", cancelled: "已撤销 cancelled" };
const DIRECTIONS = { up: "上转 up", down: "下转 down", unknown: "不明 unknown" };

// The figures are re-read for each date range asked: only the answer to the latest question is drawn.
const asking = newest();

async function refresh() {
  if (!haveToken("Paste a bearer token with the clinician role to see referrals.")) return;
  const range = new URLSearchParams();
  if ($("from").value) range.set("from", $("from").value);
  if ($("to").value) range.set("to", $("to").value);
  let summary, open;
  const current = asking();
  try {
    [summary, open] = await Promise.all([
      getJson("/api/referrals/summary?" + range),
      getJson("/api/referrals?state=open&limit=500"),
    ]);
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  $("range").textContent = summary.from + " – " + summary.to;
  fill("summary", summary.rows, (tr, r) => {
    cell(tr, r.month); cell(tr, r.facility);
    cell(tr, r.up, "num"); cell(tr, r.down, "num"); cell(tr, r.unknown, "num");
    cell(tr, r.open, r.open ? "num bad" : "num");
  }, "none · 无");
  $("open-total").textContent = open.total > open.items.length
    ? "(" + open.items.length + " of " + open.total + ")" : "(" + open.total + ")";
  fill("open", open.items, (tr, r) => {
    cell(tr, r.id); cell(tr, r.patient_id || r.patient_key);
    cell(tr, r.requester_facility); cell(tr, r.target_facility);
    cell(tr, DIRECTIONS[r.direction] || r.direction); cell(tr, STATES[r.state] || r.state);
    cell(tr, when(r.requested_at, true)); cell(tr, r.age_days, "num"); // the day in China time
  }, "none · 无");
}

useTokenForm(refresh);
$("months").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
refresh();
setInterval(refresh, 30000);
