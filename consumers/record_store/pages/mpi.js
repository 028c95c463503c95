// Patient index review page: possible duplicate patients from /api/mpi/reviews, decided by a clinician
// with the pasted token, plus the matching status and a record's link history. Records are shown
// exactly as the API returns them (numbers masked for the token's role stay masked), and every value
// is inserted with textContent: names and addresses come from member systems and must never run as HTML.
"use strict";
const { $, GENDERS, HttpError, addressOf, cell, communityOf, el, emptyRow, explain, getJson, haveToken, hideError,
  nameOf, newest, phonesOf, request, residentIds, showFailure, useTokenForm, when } = Hub;
const PAGE_SIZE = 20;
const UNDOABLE = new Set(["merge", "a40-merge", "link"]); // what POST /api/mpi/unmerge undoes
const FIELDS = { name: "姓名", sex: "性别", birth_date: "出生日期", phone: "电话", address: "地址", resident_id: "身份证号" };
const OUTCOMES = {
  same_characters: "汉字相同", same_pinyin: "拼音相同", fuzzy_pinyin: "拼音相近", reordered: "姓名顺序颠倒",
  partial: "部分相同", same: "相同", different: "不同", swapped_day_month: "日月颠倒", one_typo: "一处笔误",
  shared: "号码相同", same_village: "同村", same_township: "同乡镇",
};
const ACTIONS = {
  link: "关联 link", unlink: "解除关联 unlink", confirm: "确认 confirm", reject: "否决 reject", merge: "合并 merge",
  "a40-merge": "A40 合并 a40-merge", unmerge: "撤销 unmerge", rematch: "重新匹配 rematch",
};

let offset = 0;
// A newer refresh or history question makes older answers stale.
const asking = { reviews: newest(), history: newest() };
let thresholds = null;

function showNotice(message) { $("notice").textContent = message; $("notice").hidden = false; }

function signed(n) { return (n > 0 ? "+" : "") + String(n); }

// What a record says, field by field (the readers shared with the patient page are in common.js) ---

function mrnOf(p) {
  for (const i of p.identifier || []) {
    const m = /^urn:hub:facility:([^:]+):mrn$/.exec(i.system || "");
    if (m) return m[1] + " · " + i.value;
  }
  return "";
}

// [label, reader, whether a difference is worth a reviewer's eye (record numbers always differ)]
const ROWS = [
  ["姓名 Name", nameOf, true],
  ["性别 Sex", (p) => GENDERS[p.gender] || p.gender || "", true],
  ["出生日期 Birth date", (p) => p.birthDate || "", true],
  ["地址 Address", addressOf, true],
  ["电话 Phone", phonesOf, true],
  ["身份证号 Resident ID", residentIds, true],
  ["机构 · 病历号 Facility · MRN", mrnOf, false],
  ["所属患者 Community patient", communityOf, false],
];

// The work list ------------------------------------------------------------------------------------

function explanationList(text) {
  // "name same_pinyin +5.5; sex same +0.5; ..." (decisions may lead with "score 10.5: ")
  const list = el("ul", null, "explain");
  const parts = (text || "").replace(/^score\s+\S+:\s*/, "").split(";").map((s) => s.trim()).filter(Boolean);
  for (const part of parts) {
    const li = el("li");
    const m = /^(\S+)\s+(\S+)\s+([+-]?\d+(?:\.\d+)?)$/.exec(part);
    if (m) {
      const weight = Number(m[3]);
      li.append(
        el("span", [FIELDS[m[1]], m[1].replaceAll("_", " ")].filter(Boolean).join(" "), "field"),
        el("span", [OUTCOMES[m[2]], m[2].replaceAll("_", " ")].filter(Boolean).join(" "), "level"),
        el("span", signed(weight), "weight " + (weight > 0 ? "ok" : weight < 0 ? "bad" : "")),
      );
    } else {
      li.textContent = part; // a form this page does not know: shown as written
    }
    list.appendChild(li);
  }
  if (!parts.length) list.appendChild(el("li", "–"));
  return list;
}

function pairTable(item) {
  const table = el("table", null, "pair");
  const head = table.createTHead().insertRow();
  head.append(el("th"), el("th", "待核对记录 Record · " + (item.record ? item.record.id : "–")),
    el("th", "候选记录 Candidate · " + (item.candidate ? item.candidate.id : "–")));
  const body = table.createTBody();
  for (const [label, read, compare] of ROWS) {
    const a = item.record ? read(item.record) : "";
    let b = item.candidate ? read(item.candidate) : "";
    if (read === communityOf) b = item.candidate_community || b; // where the candidate lives now
    const tr = body.insertRow();
    if (compare && a && b && a !== b) tr.className = "differs";
    tr.append(el("th", label), el("td", a || "–"), el("td", b || "–"));
  }
  if (!item.record || !item.candidate) {
    const tr = body.insertRow();
    const td = el("td", "一条记录已不存在 · One of the records is no longer known.", "bad");
    td.colSpan = 3;
    tr.appendChild(td);
  }
  return table;
}

function reviewCard(item, typed) {
  const card = el("article", null, "review");
  card.dataset.review = item.id;
  const head = el("div", null, "review-head");
  head.append(el("span", "得分 Score " + signed(item.score), "badge score"), el("span", "Task/" + item.id, "muted"),
    el("span", "发现于 found " + when(item.created_at), "muted"));
  card.append(head, pairTable(item));

  card.appendChild(el("h3", "依据 · Why they may be the same person"));
  card.appendChild(explanationList(item.explanation));
  if (thresholds) {
    card.appendChild(el("p", "合计 total " + signed(item.score) + " · 人工核对 review ≥ " + thresholds.possible +
      " · 自动关联 link ≥ " + thresholds.link, "muted"));
  }

  const form = el("form", null, "decide");
  form.autocomplete = "off";
  const note = el("input", null, "note");
  note.id = "note-" + item.id;
  note.maxLength = 2000;
  note.placeholder = "可选，记入历史 · optional, kept in the history";
  note.value = typed.get(item.id) || "";
  const label = el("label", "备注 Note");
  label.htmlFor = note.id;
  const yes = el("button", "同一人 · Confirm", "confirm");
  yes.type = "button";
  yes.title = "Same person: link the record to the candidate's community patient";
  const no = el("button", "不同人 · Reject", "reject");
  no.type = "button";
  no.title = "Different people: keep the records apart";
  const outcome = el("p", null, "bad outcome");
  outcome.setAttribute("role", "alert");
  outcome.hidden = true;
  yes.addEventListener("click", () => decide(item, "confirm", card));
  no.addEventListener("click", () => decide(item, "reject", card));
  form.addEventListener("submit", (event) => event.preventDefault()); // Enter in the note decides nothing
  form.append(label, note, yes, no);
  card.append(form, outcome);
  return card;
}

async function decide(item, action, card) {
  const buttons = card.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  const note = card.querySelector("input.note").value.trim();
  const outcome = card.querySelector(".outcome");
  outcome.hidden = true;
  let done;
  try {
    done = await request("POST", "/api/mpi/reviews/" + encodeURIComponent(item.id) + "/" + action, note ? { note } : {});
  } catch (err) {
    outcome.textContent = explain(err);
    outcome.hidden = false;
    // Decided by someone else, or gone: nothing left to decide here until the list is refreshed.
    const settled = err instanceof HttpError && (err.status === 409 || err.status === 404);
    buttons.forEach((b) => { b.disabled = settled; });
    return;
  }
  card.remove();
  const record = item.record ? item.record.id : "the record";
  const candidate = item.candidate ? item.candidate.id : "the candidate";
  showNotice(action === "confirm"
    ? "已确认为同一人 · Confirmed: " + record + " and " + candidate + " are the same person (Patient/" +
      (done.communities[0] || item.candidate_community) + ")."
    : "已否决 · Rejected: " + record + " and " + candidate + " are different people.");
  await refresh(); // a confirmation may close the record's other open reviews too
}

function renderReviews(page) {
  const list = $("reviews");
  const typed = new Map([...list.querySelectorAll("input.note")].map((i) => [i.id.slice(5), i.value]));
  list.replaceChildren();
  for (const item of page.items) list.appendChild(reviewCard(item, typed));
  if (!page.items.length) list.appendChild(el("p", "没有待核对的记录 · No possible matches to review.", "muted"));
  const last = offset + page.items.length;
  $("review-count").textContent = page.total > page.items.length
    ? "(" + (offset + 1) + "–" + last + " / " + page.total + ")" : "(" + page.total + ")";
  $("previous").hidden = offset === 0;
  $("next").hidden = last >= page.total;
}

function renderStatus(s) {
  thresholds = s.thresholds;
  $("rules-version").textContent = s.rules_version;
  $("threshold-link").textContent = "得分 score ≥ " + s.thresholds.link;
  $("threshold-possible").textContent = "得分 score ≥ " + s.thresholds.possible + " (< " + s.thresholds.link + ")";
  $("open-reviews").textContent = s.open_reviews;
  $("waiting").textContent = s.waiting_for_rematch;
  $("waiting").className = s.waiting_for_rematch ? "bad" : "";
}

async function refresh() {
  if (!haveToken("Paste a bearer token with the clinician role to review possible matches.")) {
    $("notice").hidden = true;
    return;
  }
  const current = asking.reviews();
  const query = new URLSearchParams({ status: "requested", limit: PAGE_SIZE, offset });
  let status, page;
  try {
    [status, page] = await Promise.all([getJson("/api/mpi/status"), getJson("/api/mpi/reviews?" + query)]);
  } catch (err) {
    if (!current()) return;
    showFailure(err);
    return;
  }
  if (!current()) return;
  if (!page.items.length && offset > 0 && page.total > 0) { // the last page emptied: show the one before
    offset = Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE;
    await refresh();
    return;
  }
  hideError();
  $("content").hidden = false;
  renderStatus(status);
  renderReviews(page);
}

// Link history -------------------------------------------------------------------------------------

function undoButton(change, patient) {
  const button = el("button", "撤销 · Undo", "undo");
  button.type = "button";
  button.title = "Undo operation " + change.operation + ": every record it moved goes back";
  let armed = null;
  button.addEventListener("click", async () => {
    if (!armed) { // a second click undoes: a merge is not undone by a slip of the mouse
      button.textContent = "确定撤销？ · Click again to undo";
      armed = setTimeout(() => { armed = null; button.textContent = "撤销 · Undo"; }, 6000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    try {
      const done = await request("POST", "/api/mpi/unmerge", { operation: change.operation });
      showNotice("已撤销 · Undone: " + done.moved.join(", ") + " moved back (operation " + change.operation + ").");
    } catch (err) {
      armed = null;
      button.textContent = "撤销 · Undo";
      button.disabled = false;
      $("history-summary").textContent = "撤销失败 · Undo failed: " + explain(err);
      $("history-summary").className = "bad";
      return;
    }
    await Promise.all([loadHistory(patient), refresh()]);
  });
  return button;
}

async function loadHistory(patient) {
  const current = asking.history();
  const body = $("history").querySelector("tbody");
  const summary = $("history-summary");
  let answer;
  try {
    answer = await getJson("/api/mpi/history?" + new URLSearchParams({ patient }));
  } catch (err) {
    if (!current()) return;
    body.replaceChildren();
    summary.textContent = "无法加载历史 · Could not load the history: " + explain(err);
    summary.className = "bad";
    return;
  }
  if (!current()) return;
  body.replaceChildren();
  summary.className = "muted";
  summary.textContent = answer.items.length + " 条变更 · " + answer.items.length + " link changes of " + answer.patient;
  for (const change of answer.items) {
    const tr = document.createElement("tr");
    cell(tr, when(change.at));
    cell(tr, ACTIONS[change.action] || change.action);
    cell(tr, change.patient || change.patient_key);
    cell(tr, change.from);
    cell(tr, change.to);
    cell(tr, change.actor);
    cell(tr, change.detail, "why");
    const last = cell(tr, "");
    // A row that moved nothing (a first link, an A40 of an unknown record) has nothing to undo.
    if (UNDOABLE.has(change.action) && change.from) last.replaceChildren(undoButton(change, patient));
    body.appendChild(tr);
  }
  if (!answer.items.length) emptyRow("history", "none · 无");
}

useTokenForm(() => { offset = 0; refresh(); }, refresh);
$("refresh").addEventListener("click", () => { $("notice").hidden = true; refresh(); });
$("previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); refresh(); });
$("next").addEventListener("click", () => { offset += PAGE_SIZE; refresh(); });
$("history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const patient = $("history-patient").value.trim();
  if (!patient) {
    $("history-summary").textContent = "请输入患者编号 · Enter a patient id (cp-… or a member's record id).";
    $("history-summary").className = "bad";
    return;
  }
  loadHistory(patient);
});
// No polling: a refresh would redraw the list under a reviewer typing a note.
refresh();
