// The reading workbench: a centre's worklist with clocks, claims that the open page keeps renewing, the
// patient's context from the shared record (over its public FHIR routes), the viewers of the ECG and
// imaging helpers when they are there, and the structured report (draft, sign, second reading, amend).
// Everything from the API is inserted with textContent, never as HTML.
"use strict";
const { $, el, cell, fill, getJson, newest, request, haveToken, hideError, showError, showFailure, explain,
  useTokenForm, when } = Hub;

const ZH = (document.documentElement.lang || "zh").startsWith("zh");
const L = (zh, en) => (ZH ? zh : en);
const PRIORITY = { stat: L("急 STAT", "STAT"), asap: "ASAP", urgent: L("加急", "urgent"), routine: L("常规", "routine") };
const STATE = { waiting: L("等待图像", "waiting for images"), ready: L("待诊断", "ready"), claimed: L("诊断中", "claimed"),
  done: L("已完成", "done"), cancelled: L("已撤销", "cancelled") };
const ECG_FIELDS = ["rhythm", "rate", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_axis", "qrs_axis", "t_axis"];
const NUMBERS = new Set(ECG_FIELDS.filter((f) => f !== "rhythm"));

const view = { centre: sessionStorage.getItem("hub.reading.centre") || "ecg", config: null, offsetMs: 0,
  current: null, renewTimer: null, viewerScript: null, reopened: false };
// The worklist is re-read on a timer and on every filter change, and the reader may open one item after
// another: only the latest answer of each is drawn.
const asking = { worklist: newest(), item: newest() };

// Clocks -------------------------------------------------------------------------------------------

function serverNow() { return Date.now() + view.offsetMs; }

function clockText(dueIso) {
  if (!dueIso) return "–";
  let s = Math.round((new Date(dueIso).getTime() - serverNow()) / 1000);
  const late = s < 0;
  s = Math.abs(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  const text = (d ? d + L("天 ", "d ") : "") + pad(h) + ":" + pad(m) + ":" + pad(sec);
  return late ? L("超时 ", "late ") + text : text;
}

function clockClass(item) {
  if (!item.due_at || !["ready", "claimed"].includes(item.state)) return "";
  if (item.clock === "breached") return "breached"; // the hub counted the breach; it stays one
  const now = serverNow();
  if (new Date(item.due_at).getTime() <= now) return "breached";
  if (item.at_risk_at && new Date(item.at_risk_at).getTime() <= now) return "at-risk";
  return "";
}

function tick() {
  for (const td of document.querySelectorAll("td.clock[data-due]")) {
    const item = { due_at: td.dataset.due, at_risk_at: td.dataset.risk, state: td.dataset.state, clock: td.dataset.clock };
    td.textContent = clockText(td.dataset.due);
    td.className = "clock " + clockClass(item);
    td.parentElement.classList.toggle("breached", td.classList.contains("breached"));
    td.parentElement.classList.toggle("at-risk", td.classList.contains("at-risk"));
  }
}

// The worklist -------------------------------------------------------------------------------------

function filters() {
  const q = new URLSearchParams({ centre: view.centre, state: $("f-state").value, limit: "200" });
  if ($("f-priority").value) q.set("priority", $("f-priority").value);
  if ($("f-member").value.trim()) q.set("facility", $("f-member").value.trim());
  if ($("f-modality").value.trim()) q.set("modality", $("f-modality").value.trim().toUpperCase());
  if ($("f-mine").checked) q.set("mine", "true");
  return q;
}

async function refresh() {
  if (!haveToken(L("请粘贴诊断医师令牌。", "Paste a bearer token with the reader role."))) return;
  const current = asking.worklist();
  let list, unordered, counts, stats;
  try {
    if (!view.config) view.config = await getJson("/api/reading/centres");
    [list, unordered, counts, stats] = await Promise.all([
      getJson("/api/reading/worklist?" + filters()),
      getJson("/api/reading/unordered?centre=" + view.centre),
      Promise.all(["ecg", "imaging", "pathology"].map((c) =>
        getJson("/api/reading/worklist?state=ready&limit=1&centre=" + c).then((r) => [c, r.total]))),
      getJson("/api/reading/stats"),
    ]);
  } catch (err) {
    if (current()) showFailure(err);
    return;
  }
  if (!current()) return;
  hideError();
  $("content").hidden = false;
  view.offsetMs = new Date(list.now).getTime() - Date.now();
  for (const [centre, total] of counts) document.querySelector(`[data-count="${centre}"]`).textContent = total || "";
  $("total").textContent = "(" + list.total + ")";
  showFigures(stats);
  fill("worklist", list.items, renderRow, L("没有待办", "nothing here"));
  $("unordered-total").textContent = "(" + unordered.total + ")";
  fill("unordered", unordered.items, renderUnordered, L("无", "none"));
  tick();
  const reopen = sessionStorage.getItem("hub.reading.item");
  if (reopen && !view.current && !view.reopened) {
    view.reopened = true;
    openItem(reopen, false);
  }
}

// The centre's figures: queue by state, at risk, and the last 7 days' turnaround and breaches.
function showFigures(stats) {
  const queue = { waiting: 0, ready: 0, claimed: 0 };
  for (const q of stats.queue) if (q.centre === view.centre) queue[q.state] = (queue[q.state] || 0) + q.count;
  const t = stats.turnaround[view.centre] || {};
  const minutes = (s) => (s === null || s === undefined ? "–" : Math.round(s / 60) + L(" 分", " min"));
  $("figures").textContent = [
    `${STATE.ready} ${queue.ready}`, `${STATE.claimed} ${queue.claimed}`, `${STATE.waiting} ${queue.waiting}`,
    `${L("有超时风险", "at risk")} ${stats.at_risk[view.centre] || 0}`,
    `${L("7天报告", "7-day reports")} ${t.reports || 0}`, `p50 ${minutes(t.p50_s)}`, `p90 ${minutes(t.p90_s)}`,
    `${L("超时", "breaches")} ${t.breaches || 0}`,
  ].join(" · ");
}

function renderRow(tr, item) {
  tr.dataset.id = item.id;
  if (view.current && view.current.item.id === item.id) tr.classList.add("current");
  const clock = cell(tr, clockText(item.due_at), "clock");
  if (item.due_at) {
    clock.dataset.due = item.due_at;
    clock.dataset.state = item.state;
    clock.dataset.clock = item.clock;
    if (item.at_risk_at) clock.dataset.risk = item.at_risk_at;
  }
  cell(tr, PRIORITY[item.priority] || item.priority, item.priority === "stat" ? "bad" : "");
  cell(tr, item.patient_id || item.patient_key);
  cell(tr, item.facility_id);
  cell(tr, [item.modality, item.order_text].filter(Boolean).join(" · "));
  let status = STATE[item.state] || item.state;
  if (item.state === "claimed") status += " · " + item.holder;
  if (item.stage === "second" && item.state !== "done") status += " · " + L("待复核", "second reading");
  if (item.escalated_to) status += " · " + L("已升级至 ", "escalated to ") + item.escalated_to;
  cell(tr, status, "status");
  const actions = cell(tr, "");
  actions.textContent = "";
  if (item.state === "ready" || (item.state === "claimed" && item.mine)) {
    const claim = el("button", item.mine ? L("继续", "Continue") : L("认领", "Claim"), "claim");
    claim.type = "button";
    claim.addEventListener("click", () => openItem(item.id, true));
    actions.appendChild(claim);
  }
  const open = el("button", L("查看", "View"), "plain view");
  open.type = "button";
  open.addEventListener("click", () => openItem(item.id, false));
  actions.appendChild(open);
}

function renderUnordered(tr, a) {
  tr.dataset.study = a.study_id;
  cell(tr, [a.modality, a.description].filter(Boolean).join(" · "));
  cell(tr, a.patient_id || a.patient_key);
  cell(tr, a.facility_id);
  cell(tr, when(a.arrived_at));
  const td = cell(tr, "");
  td.textContent = "";
  const accept = el("button", L("组长接收", "Accept (lead)"), "plain accept");
  accept.type = "button";
  accept.addEventListener("click", async () => {
    try {
      const item = await request("POST", `/api/reading/unordered/${encodeURIComponent(a.study_id)}/accept`, {});
      await refresh();
      openItem(item.id, false);
    } catch (err) { showError(explain(err)); }
  });
  td.appendChild(accept);
}

// The workbench ------------------------------------------------------------------------------------

async function openItem(id, claimFirst) {
  sessionStorage.setItem("hub.reading.item", id); // a reload reopens it (and keeps renewing the claim)
  const current = asking.item();
  try {
    if (claimFirst) await request("POST", `/api/reading/items/${encodeURIComponent(id)}/claim`);
    const detail = await getJson(`/api/reading/items/${encodeURIComponent(id)}`);
    if (!current()) return; // the reader opened another item meanwhile
    hideError();
    showBench(detail);
  } catch (err) {
    showError(explain(err));
  }
  refresh();
}

// Whether the item is still the one on the workbench once a slow answer about it arrives.
function onBench(item) {
  return Boolean(view.current) && view.current.item.id === item.id;
}

function fact(dl, term, value) {
  dl.appendChild(el("dt", term));
  dl.appendChild(el("dd", value === null || value === undefined || value === "" ? "–" : value));
}

function showBench(detail) {
  const changed = !view.current || view.current.item.id !== detail.item.id;
  view.current = detail;
  const item = detail.item;
  $("bench").hidden = false;
  $("bench-title").textContent = `${item.id} · ${[item.modality, item.order_text].filter(Boolean).join(" · ")}`;
  const dl = $("bench-facts");
  dl.replaceChildren();
  fact(dl, L("患者", "Patient"), item.patient_id);
  fact(dl, L("申请机构", "Ordering member"), item.facility_id);
  fact(dl, L("医嘱", "Order"), item.order_id || L("无医嘱（组长接收）", "none (accepted by a lead)"));
  fact(dl, L("申请原因", "Reason"), item.reason);
  fact(dl, L("优先级", "Priority"), PRIORITY[item.priority] || item.priority);
  fact(dl, L("截止", "Due"), when(item.due_at));
  fact(dl, L("状态", "Status"), (STATE[item.state] || item.state) + (item.holder ? " · " + item.holder : ""));
  if (item.first_reader) fact(dl, L("初诊医师", "First reader"), item.first_reader);
  showLease(item);
  if (changed) {
    showViewer(item, detail.study);
    loadContext(item);
  }
  showReport(detail);
  keepLease(item);
}

function showLease(item) {
  const lease = $("lease");
  lease.className = "badge " + (item.mine ? "ok" : "warn");
  lease.textContent = item.mine ? L("已认领，续期至 ", "yours, renewed until ") + when(item.lease_until)
    : item.state === "claimed" ? L("由 ", "held by ") + item.holder : L("只读", "read only");
  $("release").hidden = !item.mine;
}

function keepLease(item) {
  clearInterval(view.renewTimer);
  view.renewTimer = null;
  if (!item.mine) return;
  const every = Math.max(5, (view.config ? view.config.lease_s : 600) / 3) * 1000;
  view.renewTimer = setInterval(async () => {
    if (!view.current || view.current.item.id !== item.id) return;
    try {
      const renewed = await request("POST", `/api/reading/items/${encodeURIComponent(item.id)}/renew`);
      view.current.item = renewed;
      showLease(renewed);
    } catch (err) {
      clearInterval(view.renewTimer);
      showError(L("认领已失效：", "Your claim was lost: ") + explain(err));
      view.current.item.mine = false;
      showLease(view.current.item);
      setMode(view.current);
    }
  }, every);
}

// Viewers: the ECG helper's HubEcgViewer when its script is served, else a link to the waveform; the
// image archive's viewer framed (it allows the hub's own pages to frame it), with a link beside it.
function loadEcgViewer() {
  if (window.HubEcgViewer) return Promise.resolve(true);
  if (!view.viewerScript) {
    view.viewerScript = new Promise((resolve) => {
      const style = document.createElement("link");  // its paper scrolls inside the pane
      style.rel = "stylesheet";
      style.href = "/static/ecg/ecg-viewer.css";
      document.head.appendChild(style);
      const script = document.createElement("script");
      script.src = "/static/ecg/ecg-viewer.js";
      script.onload = () => resolve(Boolean(window.HubEcgViewer));
      script.onerror = () => resolve(false);
      document.head.appendChild(script);
    });
  }
  return view.viewerScript;
}

function blobUrl(ref) { return ref ? "/api/blobs/" + ref.replace(/^blob:sha256\//, "") : null; }

function link(parent, text, href, cls) {
  const a = el("a", text, cls);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener";
  parent.appendChild(a);
  return a;
}

async function mountStudy(target, study, waveform) {
  target.replaceChildren();
  const uid = study ? ((study.identifier || []).find((i) => i.system === "urn:dicom:uid") || {}).value : null;
  if (waveform) {
    if (await loadEcgViewer()) {
      const box = el("div", null, "ecg-viewer");
      target.appendChild(box);
      window.HubEcgViewer.mount(box, { leadsUrl: blobUrl(waveform), lang: ZH ? "zh" : "en", fetchJson: getJson });
      if (study && study.id) showEcgProblems(target, study.id);
    } else {
      link(target, L("打开心电波形数据", "Open the ECG waveform"), blobUrl(waveform), "waveform-link");
    }
  }
  if (uid && !waveform) {
    // The image archive's viewer may be framed by the hub's own pages (Page.embeddable).
    const url = "/imaging/viewer?study=" + encodeURIComponent(uid.replace(/^urn:oid:/, ""));
    const frame = el("iframe", null, "image-viewer");
    frame.src = url;
    frame.title = L("影像浏览", "Image viewer");
    target.appendChild(frame);
    link(target, L("在新窗口中打开影像浏览器", "Open the image viewer in a new window"), url, "image-viewer-link");
  }
  if (!waveform && !uid) target.appendChild(el("p", L("尚无图像或波形", "no images or waveform yet"), "muted"));
}

function showViewer(item, study) {
  const holder = $("viewer");
  holder.replaceChildren();
  const compare = el("div", null, "compare");
  const now = el("div");
  now.appendChild(el("h4", L("本次检查", "This study")));
  const body = el("div");
  now.appendChild(body);
  const earlier = el("div", null, "earlier");
  earlier.id = "earlier";
  compare.appendChild(now);
  compare.appendChild(earlier);
  holder.appendChild(compare);
  mountStudy(body, study, item.waveform);
}

function waveformOf(study) {
  const ext = (study.extension || []).find((e) => e.url === "urn:hub:blob:ecg");
  return ext ? ext.valueString : null;
}

// The patient's context from the shared record: who, history, recognised results, earlier studies and
// reports from any member. Each box says why it is empty.
async function loadContext(item) {
  const box = $("context");
  box.replaceChildren(el("p", L("正在读取共享档案…", "Reading the shared record…"), "muted"));
  if (!item.patient_id) { box.replaceChildren(el("p", L("无患者", "no patient"), "muted")); return; }
  let everything;
  try {
    everything = await getJson(`/fhir/Patient/${encodeURIComponent(item.patient_id)}/$everything?_count=200`);
  } catch (err) {
    if (!onBench(item)) return;
    box.replaceChildren(el("p", L("共享档案中尚无此患者：", "The shared record has no such patient yet: ") + explain(err), "muted"));
    return;
  }
  const resources = (everything.entry || []).map((e) => e.resource);
  const patients = resources.filter((r) => r.resourceType === "Patient");
  const golden = patients.find((p) => !(p.link || []).some((l) => l.type === "refer")) || patients[0];
  const cards = [];
  const who = el("div", null, "card");
  who.appendChild(el("h4", L("患者", "Patient")));
  if (golden) {
    who.appendChild(el("div", [Hub.nameOf(golden), Hub.GENDERS[golden.gender] || golden.gender, golden.birthDate]
      .filter(Boolean).join(" · ")));
    who.appendChild(el("div", L("在 ", "records at ") + patients.filter((p) => p !== golden).map((p) => p.id.split("-")[0]).join(", "), "muted"));
  }
  cards.push(who);
  const history = [];
  for (const r of resources) {
    if (r.resourceType === "Condition") history.push([r.recordedDate || r.onsetDateTime, textOf(r.code)]);
    if (r.resourceType === "Encounter") {
      for (const reason of r.reasonCode || []) history.push([(r.period || {}).start, textOf(reason)]);
    }
  }
  cards.push(listCard(L("病史与就诊", "History and visits"), history.slice(0, 10).map(([at, text]) => `${when(at, true)} ${text}`)));
  const reports = resources.filter((r) => r.resourceType === "DiagnosticReport");
  cards.push(listCard(L("既往报告", "Earlier reports"), reports.slice(0, 10).map((r) =>
    `${when(r.effectiveDateTime || r.issued, true)} ${textOf(r.code)} ${r.conclusion || ""}`.trim())));
  const studies = resources.filter((r) => r.resourceType === "ImagingStudy" && r.id !== item.study_id);
  const studyCard = el("div", null, "card studies");
  studyCard.appendChild(el("h4", L("既往心电与影像（任一成员机构）", "Earlier ECGs and studies (any member)")));
  if (!studies.length) studyCard.appendChild(el("p", L("无", "none"), "muted"));
  const ul = el("ul");
  for (const s of studies.slice(0, 12)) {
    const li = el("li");
    const modality = ((s.modality || [])[0] || {}).code || "";
    li.appendChild(el("span", `${when(s.started, true)} ${modality} ${s.description || ""} (${s.id.split("-")[0]}) `));
    const compareButton = el("button", L("并排对比", "Side by side"), "plain compare-button");
    compareButton.type = "button";
    compareButton.addEventListener("click", () => {
      const target = $("earlier");
      target.replaceChildren(el("h4", `${L("对比", "Compare")}: ${when(s.started, true)} ${modality}`));
      const body = el("div");
      target.appendChild(body);
      mountStudy(body, s, waveformOf(s));
    });
    li.appendChild(compareButton);
    ul.appendChild(li);
  }
  studyCard.appendChild(ul);
  cards.push(studyCard);
  try {
    const recognised = await getJson(`/api/patients/${encodeURIComponent(item.patient_id)}/recognised-results?facility=`
      + encodeURIComponent(item.facility_id));
    cards.push(listCard(L("可互认的结果", "Results to recognise"), recognised.results.slice(0, 10).map((r) =>
      `${when(r.date, true)} ${r.display || r.code || ""} ${r.value ?? ""} ${r.unit || ""} ${r.recognised ? L("✓ 互认", "✓ recognised") : ""}`
        .replace(/\s+/g, " ").trim())));
  } catch (_) { /* not every role may ask; the rest of the context stands */ }
  if (!onBench(item)) return; // another patient's item is open now: never show this one's history there
  box.replaceChildren(...cards);
}

function textOf(concept) {
  if (!concept) return "";
  return concept.text || ((concept.coding || [])[0] || {}).display || ((concept.coding || [])[0] || {}).code || "";
}

function listCard(title, lines) {
  const card = el("div", null, "card");
  card.appendChild(el("h4", title));
  if (!lines.length) card.appendChild(el("p", L("无", "none"), "muted"));
  const ul = el("ul");
  for (const line of lines) ul.appendChild(el("li", line));
  card.appendChild(ul);
  return card;
}

// The report form ----------------------------------------------------------------------------------

function form() { return $("report").elements; }

function setMode(detail) {
  const item = detail.item, report = detail.report;
  const ecg = item.centre === "ecg";
  for (const node of document.querySelectorAll(".ecg-only")) node.hidden = !ecg;
  for (const node of document.querySelectorAll(".image-only")) node.hidden = ecg;
  const signing = item.mine && item.state === "claimed";
  const amending = item.state === "done" && report && ["final", "amended"].includes(report.status);
  for (const node of document.querySelectorAll(".sign-only")) node.hidden = !signing;
  for (const node of document.querySelectorAll(".second-only")) node.hidden = !(signing && item.stage === "second");
  for (const node of document.querySelectorAll(".amend-only")) node.hidden = !amending;
  for (const field of form()) if (field.name) field.disabled = !(signing || amending);
  const select = form().critical_on;
  select.replaceChildren(el("option", L("诊断结论", "conclusion")));
  select.options[0].value = "";
  for (const key of ecg ? ECG_FIELDS : ["findings"]) {
    const option = el("option", key);
    option.value = key;
    select.appendChild(option);
  }
}

function fillForm(content) {
  const f = form();
  for (const name of [...ECG_FIELDS, "findings", "conclusion"]) f[name].value = content[name] ?? "";
  f.codes.value = (content.conclusion_codes || []).map((c) => [c.system, c.code, c.display || ""].join("|")).join("\n");
  f.critical.value = content.critical ? content.critical.code : "";
  f.critical_on.value = content.critical && content.critical.on ? content.critical.on : "";
  f.critical_note.value = content.critical && content.critical.note ? content.critical.note : "";
  f.reason.value = "";
}

function readForm(centre) {
  const f = form(), content = {};
  for (const name of centre === "ecg" ? ECG_FIELDS : ["findings"]) {
    const raw = f[name].value.trim();
    if (raw !== "") content[name] = NUMBERS.has(name) ? Number(raw) : raw;
  }
  if (f.conclusion.value.trim()) content.conclusion = f.conclusion.value.trim();
  const codes = f.codes.value.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [system, code, display] = line.split("|");
    return display ? { system, code, display } : { system, code };
  });
  if (codes.length) content.conclusion_codes = codes;
  if (f.critical.value) {
    content.critical = { code: f.critical.value };
    if (f.critical_on.value) content.critical.on = f.critical_on.value;
    if (f.critical_note.value.trim()) content.critical.note = f.critical_note.value.trim();
  }
  return content;
}

// The ECG helper's automatic measurements (GET /api/ecg/studies/{id}), when it is served: a new report
// starts from them and the reader confirms or corrects. Whatever shape its answer has, Observations with
// the measurement LOINC codes are read; anything else (404 before it is merged) leaves the form empty.
const LOINC_FIELDS = { "8867-4": "rate", "8625-6": "pr_ms", "8633-0": "qrs_ms", "8634-8": "qt_ms", "8636-3": "qtc_ms",
  "8626-4": "p_axis", "8632-2": "qrs_axis", "8638-1": "t_axis" };

function measurementsIn(value, found) {
  if (Array.isArray(value)) { for (const v of value) measurementsIn(v, found); return found; }
  if (!value || typeof value !== "object") return found;
  const codes = ((value.code || {}).coding || []).map((c) => c.code);
  const field = codes.map((c) => LOINC_FIELDS[c]).find(Boolean);
  if (field && value.valueQuantity && typeof value.valueQuantity.value === "number") found[field] = value.valueQuantity.value;
  for (const child of Object.values(value)) measurementsIn(child, found);
  return found;
}

// What the ECG part found wrong with a recording (missing leads, too short, ...): the reader must see it.
async function showEcgProblems(target, studyId) {
  try {
    const answer = await getJson(`/api/ecg/studies/${encodeURIComponent(studyId)}`);
    const problems = answer.problems || [];
    if (!problems.length) return;
    const box = el("ul", null, "bad ecg-problems");
    for (const problem of problems) box.appendChild(el("li", ZH ? problem.zh : problem.en));
    target.appendChild(box);
  } catch (_) { /* no ECG analysis served: nothing to add */ }
}

async function prefillMeasurements(item) {
  try {
    const answer = await getJson(`/api/ecg/studies/${encodeURIComponent(item.study_id)}`);
    if (!onBench(item)) return; // never fill one recording's measurements into another item's report
    const found = measurementsIn(answer, {});
    const f = form();
    for (const [name, value] of Object.entries(found)) if (f[name].value === "") f[name].value = Math.round(value);
    if (Object.keys(found).length) {
      $("report-message").className = "muted";
      $("report-message").textContent = L("已填入自动测量值，请确认或修改", "Automatic measurements filled in: confirm or correct them");
    }
  } catch (_) { /* no ECG measurements served (yet): the reader types them */ }
}

function showReport(detail) {
  const report = detail.report;
  setMode(detail);
  $("report-message").textContent = "";
  const versions = report ? report.versions : [];
  const last = versions.length ? versions[versions.length - 1].content : {};
  fillForm(report && report.draft ? report.draft : last);
  const item = detail.item;
  if (item.centre === "ecg" && item.study_id && item.mine && !(report && (report.draft || versions.length))) {
    prefillMeasurements(item);
  }
  $("report-state").textContent = report ? `${report.id} · ${report.status} · v${report.version}` : L("尚未书写", "not started");
  const list = $("versions");
  list.replaceChildren();
  for (const v of versions.slice().reverse()) {
    const div = el("div", null, "version");
    div.appendChild(el("strong", `v${v.version} ${v.status} · ${v.signed_by} · ${when(v.signed_at)}`));
    if (v.reason) div.appendChild(el("div", L("修改原因：", "Reason: ") + v.reason, "muted"));
    div.appendChild(el("div", v.content.conclusion || ""));
    if (v.content.critical) div.appendChild(el("div", L("危急值 ", "Critical value ") + v.content.critical.code, "bad"));
    list.appendChild(div);
  }
}

function reportProblem(err) {
  $("report-message").textContent = explain(err);
  $("report-message").className = "bad";
}

async function act(method, url, body, done) {
  try {
    const answer = await request(method, url, body);
    const detail = await getJson(`/api/reading/items/${encodeURIComponent(view.current.item.id)}`);
    showBench(detail);
    $("report-message").className = "ok";
    $("report-message").textContent = done(answer);
    refresh();
  } catch (err) {
    reportProblem(err);
  }
}

function itemUrl(suffix) { return `/api/reading/items/${encodeURIComponent(view.current.item.id)}${suffix}`; }

$("report").addEventListener("submit", (event) => {
  event.preventDefault();
  const item = view.current.item;
  act("POST", itemUrl("/report/sign"), { content: readForm(item.centre), second_reading: form().second_reading.checked },
    (a) => a.status === "preliminary" ? L("已签发初诊，等待复核", "Signed; waits for a second reading")
      : L(`报告已签发（第 ${a.version} 版）`, `Report signed (version ${a.version})`));
});
$("save-draft").addEventListener("click", () =>
  act("PUT", itemUrl("/report"), { content: readForm(view.current.item.centre) }, () => L("草稿已保存", "Draft saved")));
$("confirm").addEventListener("click", () =>
  act("POST", itemUrl("/report/confirm"), undefined, (a) => L(`复核已确认（第 ${a.version} 版）`, `Confirmed (version ${a.version})`)));
$("amend").addEventListener("click", () => {
  const report = view.current.report;
  act("POST", `/api/reading/reports/${encodeURIComponent(report.id)}/amend`,
    { content: readForm(view.current.item.centre), reason: form().reason.value },
    (a) => L(`修改已签发（第 ${a.version} 版）`, `Amendment signed (version ${a.version})`));
});
$("release").addEventListener("click", async () => {
  try {
    await request("POST", itemUrl("/release"));
    closeBench();
  } catch (err) { showError(explain(err)); }
  refresh();
});
$("close-bench").addEventListener("click", closeBench);
$("reassign").addEventListener("submit", async (event) => {
  event.preventDefault();
  const to = $("reassign-to").value.trim();
  if (!to || !view.current) return;
  try {
    await request("POST", itemUrl("/reassign"), { to });
    $("reassign-to").value = "";
    hideError();
    showBench(await getJson(itemUrl("")));
  } catch (err) { showError(explain(err)); }
  refresh();
});

function closeBench() {
  sessionStorage.removeItem("hub.reading.item");
  clearInterval(view.renewTimer);
  view.current = null;
  $("bench").hidden = true;
  refresh();
}

// Tabs and filters ---------------------------------------------------------------------------------

function selectCentre(centre) {
  view.centre = centre;
  sessionStorage.setItem("hub.reading.centre", centre);
  for (const tab of document.querySelectorAll("#centres [data-centre]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.centre === centre));
  }
  refresh();
}

for (const tab of document.querySelectorAll("#centres [data-centre]")) {
  tab.addEventListener("click", () => selectCentre(tab.dataset.centre));
}
$("filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
for (const id of ["f-state", "f-priority", "f-mine"]) $(id).addEventListener("change", refresh);
useTokenForm(refresh);
selectCentre(view.centre);
setInterval(tick, 1000);
setInterval(refresh, 15000);
