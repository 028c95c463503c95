// Drug stock page: open warnings, the stock table (stock-outs and county shortages first), replenishment
// suggestions for village clinics with a button that requests a delivery, deliveries moved on from request to
// receipt with their fill rate, and the 集采 figures. Everything is inserted with textContent only.
"use strict";
const { $, cell, fill, getJson, newest, request, haveToken, hideError, showFailure, explain, useTokenForm, when, el } = Hub;
const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);
const KINDS = { stockout: T("断货", "stock-out"), shortage: T("县域短缺", "county shortage"),
  low: T("库存不足", "low stock"), near_expiry: T("近效期", "near expiry") };
const STATES = { requested: T("已申请", "requested"), shipped: T("已发出", "shipped"),
  received: T("已到货", "received"), cancelled: T("已取消", "cancelled") };
let refreshes = 0; // body[data-refreshed], so a test waits for a reload instead of sleeping

function holder(tr) { const td = document.createElement("td"); tr.appendChild(td); return td; }
function num(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits ?? 0); }
function pct(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%"; }
function drugText(r) { return r.name + " (" + (r.community_code || r.drug || "") + (r.known === false ? T(" · 未对照", " · not in catalogue") : "") + ")"; }
function badges(td, kinds) { for (const k of kinds) td.appendChild(el("span", KINDS[k] || k, "badge w-" + k)); }

function detailText(w) {
  const d = w.detail || {};
  if (w.kind === "low") return T("可用 ", "") + d.days_of_supply + T(" 天（阈值 ", " days left (threshold ") + d.threshold + T(" 天）", ")");
  if (w.kind === "stockout") return T("无库存，日均用量 ", "none on hand, daily use ") + d.daily_use;
  if (w.kind === "near_expiry") return T("批号 ", "lot ") + w.lot + " · " + d.expiry + " · " + d.quantity + T("，剩 ", ", ") + d.days_left + T(" 天", " days left");
  if (w.kind === "shortage") return T("成员单位：", "members: ") + (d.members || []).join(", ");
  return "";
}

async function move(id, state) {
  try {
    await request("POST", "/api/pharmacy/stock/deliveries/" + encodeURIComponent(id), { state });
  } catch (err) {
    $("request-error").textContent = explain(err);
    $("request-error").hidden = false;
  }
  refresh();
}

async function requestDelivery(s) {
  const bySource = {};
  for (const line of s.lines) (bySource[line.source] = bySource[line.source] || []).push(line);
  $("request-error").hidden = true;
  try {
    for (const [source, lines] of Object.entries(bySource)) {
      const quantity = lines.reduce((sum, line) => sum + line.quantity, 0);
      await request("POST", "/api/pharmacy/stock/deliveries", { village: s.village, source, drug: s.drug, quantity,
        lots: lines.map((line) => ({ lot: line.lot, expiry: line.expiry, quantity: line.quantity })) });
    }
  } catch (err) {
    $("request-error").textContent = explain(err);
    $("request-error").hidden = false;
  }
  refresh();
}

// The stock is re-read on a timer and after each action: only the answer to the latest question is drawn.
const asking = newest();

async function refresh() {
  if (!haveToken("Paste a pharmacist's token to see the county's drug stock.")) return;
  let stock, plan, sent, vbp;
  const current = asking();
  try {
    [stock, plan, sent, vbp] = await Promise.all([
      getJson("/api/pharmacy/stock?limit=2000"), getJson("/api/pharmacy/stock/replenishment"),
      getJson("/api/pharmacy/stock/deliveries"), getJson("/api/pharmacy/stock/vbp"),
    ]);
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  $("thresholds").textContent = T("库存不足：可用天数少于 ", "Low stock: fewer than ") + stock.low_days +
    T(" 天；近效期：", " days of supply; near expiry: within ") + stock.near_expiry_days +
    T(" 天内到期；县域短缺：", " days; county shortage: ") + stock.shortage_members + T(" 家及以上成员单位库存不足。", " or more members low.");
  $("warning-total").textContent = "(" + stock.warnings.length + ")";
  const order = { stockout: 0, shortage: 1, low: 2, near_expiry: 3 };
  const open = [...stock.warnings].sort((a, b) => order[a.kind] - order[b.kind]);
  fill("warnings", open, (tr, w) => {
    tr.className = "w-" + w.kind;
    badges(holder(tr), [w.kind]);
    cell(tr, w.facility === "county" ? T("全县", "county") : w.facility); cell(tr, w.name + " (" + w.drug + ")");
    cell(tr, detailText(w)); cell(tr, when(w.raised_at));
  }, T("无 · none", "none · 无"));
  fill("stock", stock.items, (tr, r) => {
    if (r.warnings.length) tr.className = "w-" + r.warnings[0];
    tr.dataset.facility = r.facility; tr.dataset.drug = r.drug;
    cell(tr, r.facility); cell(tr, drugText(r)); cell(tr, num(r.on_hand), "num"); cell(tr, num(r.daily_use, 1), "num");
    cell(tr, r.days_of_supply === null ? "∞" : num(r.days_of_supply, 1), "num");
    cell(tr, r.batches.map((b) => (b.lot || "–") + " " + (b.expiry || "") + " ×" + b.quantity).join("; "), "lines");
    badges(holder(tr), r.warnings);
  }, T("无 · none", "none · 无"));
  $("target").textContent = T("补至 ", "Brought to ") + plan.target_days + T(" 天用量；乡镇与县级保留 ", " days of use; townships and the county keep ") +
    plan.reserve_days + T(" 天自用。", " days of their own.");
  fill("suggestions", plan.items, (tr, s) => {
    tr.dataset.village = s.village; tr.dataset.drug = s.drug;
    cell(tr, s.village); cell(tr, s.name + " (" + s.drug + ")"); cell(tr, num(s.days_of_supply, 1), "num");
    cell(tr, num(s.need), "num");
    cell(tr, s.lines.map((l) => l.source + " " + (l.lot || "–") + " " + (l.expiry || "") + " ×" + l.quantity).join("; "), "lines");
    cell(tr, s.short ? num(s.short) : "", "num");
    const button = el("button", T("申请配送", "Request delivery"), "request");
    button.type = "button";
    button.disabled = !s.lines.length;
    button.addEventListener("click", () => requestDelivery(s));
    holder(tr).appendChild(button);
  }, T("无 · none", "none · 无"));
  const f = sent.fill;
  $("fill").textContent = T("配送到位率 ", "fill rate ") + pct(f.fill_rate) + T("，按时 ", ", on time ") + pct(f.on_time) +
    " (" + f.deliveries + ")";
  fill("deliveries", sent.items, (tr, d) => {
    tr.dataset.id = d.id; tr.dataset.state = d.state;
    cell(tr, d.id); cell(tr, d.village); cell(tr, d.source); cell(tr, d.name + " (" + d.drug + ")");
    cell(tr, num(d.requested), "num"); cell(tr, d.shipped === null ? "" : num(d.shipped), "num");
    cell(tr, d.received === null ? "" : num(d.received), "num"); cell(tr, STATES[d.state] || d.state, "state");
    const td = holder(tr);
    const next = { requested: [["shipped", T("发出", "Ship")], ["cancelled", T("取消", "Cancel")]],
      shipped: [["received", T("确认到货", "Receive")]] }[d.state] || [];
    for (const [state, label] of next) {
      const button = el("button", label, "to-" + state);
      button.type = "button";
      button.addEventListener("click", () => move(d.id, state));
      td.appendChild(button);
    }
  }, T("无 · none", "none · 无"));
  $("vbp-year").textContent = "(" + vbp.year + ")";
  fill("vbp-use", vbp.use, (tr, u) => {
    cell(tr, u.facility); cell(tr, u.name + " (" + u.drug + ")"); cell(tr, num(u.agreed), "num");
    cell(tr, num(u.dispensed), "num"); cell(tr, pct(u.share), "num"); cell(tr, pct(u.expected_share), "num");
  }, T("无 · none", "none · 无"));
  fill("vbp-share", vbp.equivalents, (tr, g) => {
    cell(tr, g.atc); cell(tr, num(g.vbp), "num"); cell(tr, num(g.all), "num"); cell(tr, pct(g.share), "num");
  }, T("无 · none", "none · 无"));
  fill("vbp-missed", vbp.missed, (tr, m) => { cell(tr, m.facility); cell(tr, m.prescriptions, "num"); cell(tr, m.of, "num"); },
    T("无 · none", "none · 无"));
  $("vbp-notes").replaceChildren(...(vbp.notes.length ? [el("li", T("有约定量但目录未标注集采批次：",
    "Agreed volume given, but the catalogue marks no 集采 batch: ") + vbp.notes.join("; "))] : []));
  document.body.dataset.refreshed = String(++refreshes);
}

useTokenForm(refresh);
refresh();
setInterval(refresh, 30000);
