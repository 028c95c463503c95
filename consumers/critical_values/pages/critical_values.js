// Critical-value page: the caller's open notices with a clock each (ticking every second from the hub's
// time), the acknowledgement form, the acknowledged ones, the county duty doctors and, for county staff,
// the values the rules could not check. Everything is inserted with textContent only, never as HTML.
"use strict";
const { $, cell, fill, getJson, newest, request, haveToken, hideError, showError, showFailure, explain, useTokenForm, when, el } = Hub;
const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);
const LEVELS = [T("首次通知", "1st notice"), T("第2次通知", "2nd notice"), T("已通知总值班", "duty doctors called")];
const SOURCES = { lab_rule: T("检验规则", "lab rule"), lab_flag: T("检验科标记", "lab flag"), reader: T("阅片医师", "reader") };

let offsetMs = 0; // the hub's clock minus this browser's, so every clock counts from the hub's time
let refreshes = 0; // shown as body[data-refreshed], so a test can wait for a reload instead of sleeping

function clockText(seconds) {
  const late = seconds < 0;
  const s = Math.abs(Math.round(seconds));
  const text = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  return late ? T("已超时 ", "overdue ") + text : text;
}

function tick() {
  const now = Date.now() + offsetMs;
  for (const td of document.querySelectorAll("td.clock[data-due]")) {
    const left = (Date.parse(td.dataset.due) - now) / 1000;
    td.textContent = clockText(left);
    td.classList.toggle("overdue", left < 0);
  }
}

// An empty cell to put an element in (cell() would show "–" in it).
function holder(tr) {
  const td = document.createElement("td");
  tr.appendChild(td);
  return td;
}

function patientOf(r) { return r.patient_id || r.patient_key; }

function openForm(r) {
  $("ack-notice").value = r.id;
  $("ack-error").hidden = true;
  $("ack-summary").textContent = r.facility + " · " + patientOf(r) + " · " + r.summary;
  $("ack-section").hidden = false;
  $("ack-name").focus();
}

function closeForm() {
  $("ack-section").hidden = true;
  $("ack-error").hidden = true;
  $("ack-form").reset();
}

// The lists are re-read on a timer and after each acknowledgement: only the answer to the latest question is drawn.
const asking = newest();

async function refresh() {
  if (!haveToken("Paste a token of a member (clinician or connector) to see its critical values.")) return;
  let open, done;
  const current = asking();
  try {
    [open, done] = await Promise.all([
      getJson("/api/critical-values?status=open&limit=500"),
      getJson("/api/critical-values?status=closed&limit=50"),
    ]);
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  offsetMs = Date.parse(open.now) - Date.now();
  $("scope").textContent = open.county ? T("县级视图：全部成员机构", "County view: every member")
    : T("本机构：", "Member: ") + open.facility;
  $("open-total").textContent = "(" + open.total + ")";
  fill("open", open.items, (tr, r) => {
    tr.className = "level-" + r.level;
    tr.dataset.id = r.id;
    const clock = cell(tr, clockText(r.seconds_left), "clock");
    clock.dataset.due = r.due_at;
    holder(tr).appendChild(el("span", LEVELS[r.level] || r.level, r.level ? "badge bad" : "badge"));
    cell(tr, r.facility); cell(tr, patientOf(r)); cell(tr, r.summary, "summary");
    cell(tr, SOURCES[r.source] || r.source); cell(tr, when(r.raised_at));
    const button = el("button", T("确认", "Acknowledge"), "ack");
    button.type = "button";
    button.addEventListener("click", () => openForm(r));
    holder(tr).appendChild(button);
  }, T("无 · none", "none · 无"));
  tick();
  fill("duty", open.duty_doctors, (tr, d) => { cell(tr, d.name); cell(tr, d.role); cell(tr, d.phone); }, "–");
  $("done-total").textContent = "(" + done.total + ")";
  fill("done", done.items, (tr, r) => {
    cell(tr, r.facility); cell(tr, patientOf(r)); cell(tr, r.summary, "summary"); cell(tr, LEVELS[r.level]);
    if (r.status === "withdrawn") { // the laboratory or the reader corrected the result: nothing to acknowledge
      cell(tr, T("已作废（结果已更正）", "withdrawn (result corrected)") + " · " + when(r.updated_at));
      cell(tr, ""); cell(tr, "");
      return;
    }
    const a = r.acknowledgement || {};
    cell(tr, (a.name || "") + (a.role ? " (" + a.role + ")" : "") + " · " + when(a.at));
    cell(tr, a.action); cell(tr, a.seconds === null || a.seconds === undefined ? "" : clockText(a.seconds), "num");
  }, T("无 · none", "none · 无"));
  $("unchecked-section").hidden = !open.county;
  if (open.county) {
    try {
      const unchecked = await getJson("/api/critical-values/unchecked?limit=100");
      fill("unchecked", unchecked.items, (tr, u) => {
        cell(tr, u.facility); cell(tr, u.analyte); cell(tr, u.unit); cell(tr, u.observation);
        cell(tr, u.reason, "summary"); cell(tr, when(u.seen_at));
      }, T("无 · none", "none · 无"));
    } catch (err) {
      showError(explain(err));
    }
  }
  document.body.dataset.refreshed = String(++refreshes);
}

$("ack-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("ack-notice").value;
  const body = { name: $("ack-name").value.trim(), role: $("ack-role").value.trim(), action: $("ack-action").value.trim() };
  $("ack-submit").disabled = true;
  try {
    await request("POST", "/api/critical-values/" + encodeURIComponent(id) + "/acknowledge", body);
    closeForm();
  } catch (err) {
    // Shown in the form, which stays open: the page's periodic reload does not wipe it.
    $("ack-error").textContent = explain(err);
    $("ack-error").hidden = false;
  } finally {
    $("ack-submit").disabled = false;
  }
  refresh();
});
$("ack-cancel").addEventListener("click", closeForm);
useTokenForm(refresh);
refresh();
setInterval(tick, 1000);
setInterval(refresh, 15000);
