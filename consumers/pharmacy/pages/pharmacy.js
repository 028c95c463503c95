// Central pharmacy page: the held prescriptions with a clock each (from the hub's time), the decision view
// (findings with sources, the county-wide medication list, allergies, renal labs), the mapping queue with a
// catalogue search, the rules and their versions. Everything is inserted with textContent only.
"use strict";
const { $, cell, fill, getJson, newest, request, haveToken, hideError, showFailure, explain, useTokenForm, when, el } = Hub;
const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);
const ACTIONS = { hold: T("需审核", "hold"), warn: T("提示", "warn") };
const KINDS = { request: T("处方", "prescription"), dispense: T("发药", "dispense") };
const ANALYTES = { egfr: "eGFR", creatinine: T("肌酐", "creatinine") };

let offsetMs = 0;
let refreshes = 0; // body[data-refreshed]: a test waits for a reload instead of sleeping
let reasonsLoaded = false;
// The queue is re-read on a timer and the pharmacist may open one review after another: only the latest
// answer of each is drawn.
const asking = { queue: newest(), review: newest() };

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

function holder(tr) { const td = document.createElement("td"); tr.appendChild(td); return td; }
function message(f) { return EN ? f.message_en : f.message_zh; }

async function loadReasons() {
  if (reasonsLoaded) return;
  const reasons = await getJson("/api/pharmacy/reasons");
  const select = $("decision-reason");
  for (const r of reasons) {
    const option = el("option", EN ? r.en : r.zh);
    option.value = r.code;
    select.appendChild(option);
  }
  reasonsLoaded = true;
}

async function openDecision(id) {
  $("decision-error").hidden = true;
  const current = asking.review();
  let view;
  try {
    await loadReasons();
    view = await getJson("/api/pharmacy/reviews/" + encodeURIComponent(id));
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return; // another review was opened meanwhile
  $("decision-review").value = view.id;
  $("decision-summary").textContent = view.facility + " · " + (view.patient_id || view.patient_key) + " · "
    + (view.drug || "") + " " + (view.dose || "");
  fill("findings", view.findings, (tr, f) => {
    cell(tr, f.kind); cell(tr, f.severity); cell(tr, ACTIONS[f.action] || f.action);
    cell(tr, message(f), "summary"); cell(tr, f.source, "summary");
  }, T("无 · none", "none · 无"));
  fill("medications", view.person.medications, (tr, m) => {
    if (m.facility !== view.facility) tr.className = "other-member";
    tr.dataset.id = m.id;
    cell(tr, m.facility); cell(tr, KINDS[m.kind] || m.kind); cell(tr, m.name); cell(tr, m.dose);
    cell(tr, m.status + (m.current ? T("（在用）", " (current)") : "")); cell(tr, when(m.authored_at));
  }, T("无 · none", "none · 无"));
  fill("allergies", view.person.allergies, (tr, a) => {
    cell(tr, a.facility); cell(tr, a.substance); cell(tr, a.criticality); cell(tr, when(a.recorded_at, true));
  }, T("无 · none", "none · 无"));
  fill("labs", view.person.labs, (tr, x) => {
    cell(tr, x.facility); cell(tr, ANALYTES[x.analyte] || x.analyte); cell(tr, x.value + " " + x.unit);
    cell(tr, when(x.observed_at));
  }, T("无 · none", "none · 无"));
  $("decision-section").hidden = false;
  $("decision-section").scrollIntoView();
}

function closeDecision() {
  $("decision-section").hidden = true;
  $("decision-form").reset();
}

async function mapCode(id, drug) {
  await request("POST", "/api/pharmacy/mappings/" + id, { drug: drug });
  refresh();
}

function mappingCell(tr, m) {
  const td = holder(tr);
  td.className = "map";
  const search = el("input");
  search.type = "search";
  search.placeholder = T("搜索目录：名称、编码或ATC", "search the catalogue: name, code, ATC");
  const choice = el("select");
  const button = el("button", T("对照", "Map"));
  button.type = "button";
  const searching = newest(); // typing asks again on every key: keep the answer to the latest text
  search.addEventListener("input", async () => {
    const current = searching();
    const found = await getJson("/api/pharmacy/drugs?q=" + encodeURIComponent(search.value));
    if (!current()) return;
    choice.textContent = "";
    for (const d of found) {
      const option = el("option", d.code + " " + d.name + " " + (d.strength || ""));
      option.value = d.code;
      choice.appendChild(option);
    }
  });
  button.addEventListener("click", () => { if (choice.value) mapCode(m.id, choice.value).catch(showFailure); });
  td.append(search, choice, button);
}

async function refresh() {
  if (!haveToken("Paste a pharmacist's token to see the review queue.")) return;
  const current = asking.queue();
  let queue, mappings, rules;
  try {
    [queue, mappings, rules] = await Promise.all([
      getJson("/api/pharmacy/queue?status=ready&limit=500"),
      getJson("/api/pharmacy/mappings"),
      getJson("/api/pharmacy/rules"),
    ]);
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  offsetMs = Date.parse(queue.now) - Date.now();
  $("queue-total").textContent = "(" + queue.total + ")";
  fill("queue", queue.items, (tr, r) => {
    tr.dataset.id = r.id;
    if (r.priority !== "routine") tr.className = "urgent";
    const clock = cell(tr, clockText(r.seconds_left), "clock");
    clock.dataset.due = r.due_at;
    cell(tr, r.priority); cell(tr, r.facility); cell(tr, r.patient_id || r.patient_key); cell(tr, r.drug);
    cell(tr, r.findings.map(message).join("；"), "summary");
    const button = el("button", T("审核", "Review"), "open");
    button.type = "button";
    button.addEventListener("click", () => openDecision(r.id));
    holder(tr).appendChild(button);
  }, T("无 · none", "none · 无"));
  tick();
  $("mapping-total").textContent = "(" + mappings.total + ")";
  fill("mappings", mappings.items, (tr, m) => {
    tr.dataset.id = m.id;
    cell(tr, m.facility); cell(tr, m.code); cell(tr, m.display); cell(tr, String(m.seen), "num");
    cell(tr, when(m.first_seen) + " / " + when(m.last_seen)); mappingCell(tr, m);
  }, T("无 · none", "none · 无"));
  $("rules-version").textContent = "(" + rules.version + (rules.shipped ? T("，随系统发布", ", shipped") : "") + ")";
  fill("rules", rules.rules, (tr, r) => { cell(tr, r.id); cell(tr, r.kind); cell(tr, r.text, "summary"); cell(tr, r.source, "summary"); },
    T("无 · none", "none · 无"));
  fill("versions", rules.versions, (tr, v) => {
    cell(tr, v.version); cell(tr, v.author); cell(tr, when(v.created_at)); cell(tr, v.note); cell(tr, v.active ? "✓" : "");
  }, T("仅随系统发布的规则", "only the shipped rules"));
  document.body.dataset.refreshed = String(++refreshes);
}

$("decision-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("decision-review").value;
  const action = $("decision-action").value;
  const body = { action: action, text: $("decision-text").value.trim() || null };
  if (action === "return") body.reason_code = $("decision-reason").value;
  $("decision-submit").disabled = true;
  try {
    await request("POST", "/api/pharmacy/reviews/" + encodeURIComponent(id) + "/decision", body);
    closeDecision();
  } catch (err) {
    $("decision-error").textContent = explain(err);
    $("decision-error").hidden = false;
  } finally {
    $("decision-submit").disabled = false;
  }
  refresh();
});
$("decision-cancel").addEventListener("click", closeDecision);
useTokenForm(refresh);
refresh();
setInterval(tick, 1000);
setInterval(refresh, 15000);
