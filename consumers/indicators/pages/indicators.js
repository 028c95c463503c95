// County monitoring indicators: the figures of a month (county or one member) with their definitions, the
// records behind a figure, charts of the last 12 months (Chart.js) and the import of insurance settlements.
// Everything is inserted with textContent only, never as HTML.
"use strict";
const { $, cell, fill, getJson, newest, haveToken, hideError, showError, showFailure, explain, useTokenForm, token, cookie, when, el } = Hub;
const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);
const RATE_KEYS = ["in_county_visits", "primary_visits", "referral_loops", "hypertension_managed", "diabetes_managed",
  "results_recognised", "vbp_share"];
const COUNT_KEYS = ["referrals_up", "referrals_down", "remote_reads"];
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const PAGE = 100;

let shown = { month: null, member: "" };
let records = { key: null, offset: 0 };
const charts = {};
// A reload re-asks for the records on show while the reader may pick another figure: each kind of
// answer is drawn only if it answers the latest question.
const asking = { load: newest(), records: newest(), charts: newest() };

function thisMonth() {
  const now = new Date(Date.now() + 8 * 3600 * 1000); // the county's calendar (UTC+8)
  return now.toISOString().slice(0, 7);
}

function query(extra) {
  const params = new URLSearchParams({ month: shown.month, ...extra });
  if (shown.member) params.set("member", shown.member);
  return params.toString();
}

function name(d) { return EN ? d.name_en : d.name_zh; }

function valueText(f) {
  if (f.value === null) return "—";
  if (f.unit === "percent") return f.value.toFixed(1) + "%";
  if (f.unit === "hours") return f.value.toFixed(1) + T(" 小时", " h");
  return String(f.value);
}

function definitionCell(tr, f) {
  const td = document.createElement("td");
  td.className = "definition";
  const lines = [
    T("分子：", "Numerator: ") + (EN ? f.numerator_en : f.numerator_zh),
    T("分母：", "Denominator: ") + (EN ? f.denominator_en : f.denominator_zh),
    T("来源：", "Source: ") + (EN ? f.source_en : f.source_zh),
  ];
  for (const line of lines) td.appendChild(el("div", line));
  tr.appendChild(td);
}

async function load() {
  if (!haveToken("Paste a token of a manager (or an admin) to see the indicators.")) return;
  const current = asking.load();
  let data;
  try {
    data = await getJson("/api/indicators?" + query({}));
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  const select = $("member");
  const known = new Set([...select.options].map((o) => o.value));
  for (const m of data.members) {
    if (!known.has(m)) select.appendChild(el("option", m));
  }
  select.value = shown.member;
  $("scope").textContent = "(" + data.month + " · " + (data.member || T("全县", "whole county")) + ")";
  $("export").href = "/api/indicators/export.csv?" + query({});
  fill("figures", data.indicators, (tr, f) => {
    tr.dataset.key = f.key;
    cell(tr, name(f));
    const value = cell(tr, valueText(f), f.value === null ? "value missing" : "value");
    if (f.value === null && f.missing_en) value.title = EN ? f.missing_en : f.missing_zh;
    const counts = f.denominator === null || f.denominator === undefined
      ? (f.numerator === null || f.numerator === undefined ? "" : String(f.numerator))
      : (f.numerator === null ? "" : f.numerator + " / ") + f.denominator;
    const countCell = cell(tr, f.value === null && f.missing_en ? (EN ? f.missing_en : f.missing_zh) : counts);
    if (f.value === null) countCell.classList.add("missing");
    definitionCell(tr, f);
    const button = el("button", T("查看记录", "Records"), "plain records");
    button.type = "button";
    button.addEventListener("click", () => showRecords(f.key, name(f), 0));
    const td = document.createElement("td");
    td.appendChild(button);
    tr.appendChild(td);
  });
  fill("imported", data.insurance_months, (tr, m) => {
    cell(tr, m.month); cell(tr, String(m.rows)); cell(tr, m.source); cell(tr, m.imported_by); cell(tr, when(m.imported_at));
  }, T("尚未导入医保结算数据", "No insurance settlement data imported yet"));
  document.body.dataset.loaded = data.month + "/" + (data.member || "county");
  if (records.key) showRecords(records.key, null, 0);
  drawCharts();
}

async function showRecords(key, title, offset) {
  const current = asking.records();
  let data;
  try {
    data = await getJson("/api/indicators/records?" + query({ key, limit: PAGE, offset }));
  } catch (err) {
    if (current()) showError(explain(err));
    return;
  }
  if (!current()) return;
  records = { key, offset };
  for (const tr of document.querySelectorAll("#figures tbody tr")) tr.classList.toggle("chosen", tr.dataset.key === key);
  $("records-section").hidden = false;
  $("records-title").textContent = title || name(data.indicator);
  $("records-total").textContent = "(" + data.total + ")";
  $("records-export").href = "/api/indicators/records.csv?" + query({ key });
  const render = (tr, r) => {
    cell(tr, r.numerator ? T("分子", "numerator") : T("仅分母", "denominator only"));
    cell(tr, r.kind); cell(tr, r.id); cell(tr, r.facility); cell(tr, r.patient_id || r.patient_key);
    cell(tr, r.at ? when(r.at) : ""); cell(tr, r.detail);
  };
  if (offset === 0) {
    fill("records", data.items, render, data.indicator.value === null && data.indicator.missing_en
      ? (EN ? data.indicator.missing_en : data.indicator.missing_zh) : T("没有计入的记录", "Nothing was counted"));
  } else {
    for (const r of data.items) {
      const tr = document.createElement("tr");
      render(tr, r);
      document.querySelector("#records tbody").appendChild(tr);
    }
  }
  $("records-more").hidden = offset + data.items.length >= data.total;
}

async function drawCharts() {
  if (typeof Chart === "undefined") return; // the vendored library did not load: the tables still work
  const params = new URLSearchParams({ to: shown.month, months: "12", keys: [...RATE_KEYS, ...COUNT_KEYS].join(",") });
  if (shown.member) params.set("member", shown.member);
  const current = asking.charts();
  let data;
  try {
    data = await getJson("/api/indicators/trend?" + params.toString());
  } catch (err) {
    if (current()) showError(explain(err));
    return;
  }
  if (!current()) return;
  const draw = (id, keys) => {
    const datasets = data.series.filter((s) => keys.includes(s.key)).map((s, i) => ({
      label: name(s), data: s.values, borderColor: COLOURS[i % COLOURS.length],
      backgroundColor: COLOURS[i % COLOURS.length], spanGaps: false, tension: 0.2,
    }));
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), {
      type: "line",
      data: { labels: data.months, datasets },
      options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } } },
    });
  };
  draw("chart-rates", RATE_KEYS);
  draw("chart-counts", COUNT_KEYS);
  document.body.dataset.charted = data.months[data.months.length - 1];
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const month = $("upload-month").value;
  $("upload-errors").hidden = true;
  $("upload-errors").replaceChildren();
  if (!file || !month) return;
  const headers = { "Content-Type": "text/csv" };
  if (token()) headers.Authorization = "Bearer " + token();
  else headers["X-CSRF-Token"] = cookie("hub_csrf");
  const params = new URLSearchParams({ month, name: file.name });
  let response;
  try {
    response = await fetch("/api/indicators/insurance?" + params.toString(),
      { method: "POST", headers, body: await file.arrayBuffer(), credentials: "same-origin" });
  } catch (err) {
    $("upload-result").textContent = T("枢纽未响应：", "The hub did not answer: ") + err.message;
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    $("upload-result").textContent = T("已导入 ", "Imported ") + body.rows + T(" 条结算记录（", " settlements of ") + body.month
      + T("）", "");
    $("upload-file").value = "";
    load();
    return;
  }
  const issues = body.issue || [];
  $("upload-result").textContent = T("未导入：", "Not imported: ") + (issues[0] ? issues[0].diagnostics : "HTTP " + response.status);
  for (const issue of issues.slice(1)) $("upload-errors").appendChild(el("li", issue.diagnostics));
  $("upload-errors").hidden = issues.length < 2;
}

function choose(event) {
  if (event) event.preventDefault();
  shown = { month: $("month").value || thisMonth(), member: $("member").value };
  const url = new URL(location.href);
  url.searchParams.set("month", shown.month);
  if (shown.member) url.searchParams.set("member", shown.member); else url.searchParams.delete("member");
  history.replaceState(null, "", url);
  load();
}

function start() {
  const asked = new URLSearchParams(location.search);
  shown = { month: asked.get("month") || thisMonth(), member: asked.get("member") || "" };
  $("month").value = shown.month;
  $("upload-month").value = shown.month;
  if (shown.member) $("member").appendChild(el("option", shown.member));
  $("choice").addEventListener("submit", choose);
  $("upload").addEventListener("submit", upload);
  $("records-more").addEventListener("click", () => showRecords(records.key, null, records.offset + PAGE));
  useTokenForm(load);
  load();
}

start();
