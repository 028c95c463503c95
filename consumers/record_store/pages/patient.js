// Patient page: one community patient's record, read with the page session or a pasted token. It shows exactly what
// the API returns (numbers masked for the token's role stay masked) and inserts text with
// textContent only: names and results come from member systems and must never run as HTML.
"use strict";
const { $, GENDERS, addressOf, cell, communityOf, emptyRow, explain, getJson, haveToken, hideError, nameOf, newest,
  phonesOf, residentIds, showError, signedIn, useTokenForm, when } = Hub;
const PAGE_SIZE = 20;
const ASK = "Paste a bearer token (clinician or reader) to open a patient record.";
const TYPES = {
  Encounter: "就诊 · Encounter", MedicationRequest: "处方 · Prescription", Observation: "检验 · Observation",
  DiagnosticReport: "报告 · Report", ServiceRequest: "申请 · Request", ImagingStudy: "影像/心电 · Imaging",
  Condition: "诊断 · Condition", Task: "任务 · Task",
};
const REASONS = [
  ["test not on", "项目不在互认目录"], ["laboratory not on", "机构不在互认名单"], ["result not final", "结果未终审"],
];
const DATE_PATHS = [["effectiveDateTime"], ["effectivePeriod", "start"], ["issued"], ["period", "start"],
  ["authoredOn"], ["occurrenceDateTime"], ["started"], ["onsetDateTime"], ["recordedDate"]];

const asking = newest(); // a newer open() makes older answers stale
let opened = () => false; // whether what is shown is still the latest open()
let nextUrl = null;
let shown = 0;
let patientRecords = 0; // the community patient and its sources lead $everything's total
let sources = {};

function conceptText(concept) {
  if (!concept) return "";
  const coding = Array.isArray(concept.coding) ? concept.coding[0] || {} : concept;
  return concept.text || coding.display || coding.code || "";
}

function valueText(r) {
  const q = r.valueQuantity;
  if (q && q.value !== undefined) return q.value + " " + (q.unit || q.code || "");
  if (r.valueCodeableConcept) return conceptText(r.valueCodeableConcept);
  for (const key of ["valueString", "valueInteger", "valueBoolean", "valueDateTime"]) {
    if (r[key] !== undefined) return String(r[key]);
  }
  return "";
}

function facilityOf(r) {
  let m = /^urn:hub:facility:([^:]+)$/.exec((r.meta && r.meta.source) || "");
  if (m) return m[1];
  for (const id of r.identifier || []) {
    m = /^urn:hub:facility:([^:]+):/.exec(id.system || "");
    if (m) return m[1];
  }
  const refs = [r.managingOrganization, r.serviceProvider, r.requester, ...(r.performer || [])];
  for (const ref of refs) {
    m = /^Organization\/(.+)$/.exec((ref && ref.reference) || "");
    if (m) return m[1];
  }
  m = /^([A-Za-z0-9_]+)-[a-z]+-/.exec(r.id || ""); // member ids are {facility}-{kind}-{local id}
  return m ? m[1] : "";
}

function dateOf(r) {
  for (const path of DATE_PATHS) {
    let node = r;
    for (const step of path) node = node && typeof node === "object" ? node[step] : undefined;
    if (typeof node === "string") return node;
  }
  return "";
}

function showPatient(p) {
  $("p-name").textContent = nameOf(p) || "–";
  $("p-gender").textContent = GENDERS[p.gender] || p.gender || "–";
  $("p-birth").textContent = p.birthDate || "–";
  $("p-resident-id").textContent = residentIds(p) || "–";
  $("p-phone").textContent = phonesOf(p) || "–";
  $("p-address").textContent = addressOf(p) || "–";
  $("p-id").textContent = p.id;
}

function showSources(golden) {
  const body = $("sources").querySelector("tbody");
  body.replaceChildren();
  const links = (golden.link || []).filter((l) => l.type === "seealso");
  for (const link of links) {
    const id = link.other.reference.replace(/^Patient\//, "");
    const s = sources[id] || { id };
    const tr = document.createElement("tr");
    cell(tr, id);
    cell(tr, facilityOf(s));
    const mrn = (s.identifier || []).find((i) => /:mrn$/.test(i.system || ""));
    cell(tr, mrn && mrn.value);
    cell(tr, nameOf(s));
    cell(tr, residentIds(s));
    body.appendChild(tr);
  }
  if (!links.length) emptyRow("sources", "none");
}

function reasonText(reason) {
  if (!reason) return "";
  return reason.split("; ").map((part) => {
    const known = REASONS.find(([start]) => part.startsWith(start));
    return known ? known[1] + " · " + part : part;
  }).join("；");
}

async function loadRecognised(patientId, current) {
  const params = new URLSearchParams();
  for (const name of ["facility", "at"]) if ($(name).value.trim()) params.set(name, $(name).value.trim());
  const body = $("recognised").querySelector("tbody");
  const summary = $("recognised-summary");
  let answer;
  try {
    answer = await getJson("/api/patients/" + encodeURIComponent(patientId) + "/recognised-results?" + params);
  } catch (err) {
    if (!current()) return;
    body.replaceChildren();
    summary.textContent = "无法加载互认结果 · Could not load recognised results: " + explain(err);
    summary.className = "bad";
    return;
  }
  if (!current()) return;
  body.replaceChildren();
  summary.className = "muted";
  summary.textContent = answer.total + " 项结果，" + answer.recognised + " 项可互认 · " + answer.total +
    " results of other members, " + answer.recognised + " recognised (本机构 requesting facility " +
    answer.requesting_facility + ", 时间点 as of " + when(answer.at) + ")";
  for (const item of answer.results) {
    const tr = document.createElement("tr");
    tr.className = item.recognised ? "recognised" : "not-recognised";
    const status = cell(tr, "");
    const badge = document.createElement("span");
    badge.className = "badge " + (item.recognised ? "ok" : "bad");
    badge.textContent = item.recognised ? "✓ 互认 recognised" : "✗ 不互认 not recognised";
    status.replaceChildren(badge);
    cell(tr, item.display || item.code);
    cell(tr, item.value === null ? "" : item.value + (item.unit ? " " + item.unit : ""), "num");
    cell(tr, when(item.date));
    cell(tr, item.facility_id);
    cell(tr, when(item.valid_until));
    cell(tr, reasonText(item.reason), "why");
    body.appendChild(tr);
  }
  if (!answer.results.length) emptyRow("recognised", "none · 无");
}

async function loadTimeline(url, golden, current) {
  const more = $("more");
  more.disabled = true;
  let bundle;
  try {
    bundle = await getJson(url);
  } catch (err) {
    if (current()) { more.disabled = false; showError("Timeline: " + explain(err)); }
    return;
  }
  if (!current()) return;
  const body = $("timeline").querySelector("tbody");
  for (const entry of bundle.entry || []) {
    const r = entry.resource;
    if (r.resourceType === "Patient") { sources[r.id] = r; continue; }
    const tr = document.createElement("tr");
    cell(tr, when(dateOf(r)));
    cell(tr, TYPES[r.resourceType] || r.resourceType);
    const concept = r.code || r.medicationCodeableConcept || (r.reasonCode || [])[0] || (r.modality || [])[0] || r.class;
    cell(tr, [conceptText(concept) || r.description, valueText(r)].filter(Boolean).join(" "));
    cell(tr, facilityOf(r));
    body.appendChild(tr);
    shown += 1;
  }
  if (golden) {
    showSources(golden);
    patientRecords = 1 + (golden.link || []).length;
  }
  const total = Math.max(shown, bundle.total - patientRecords);
  $("timeline-count").textContent = "显示 " + shown + " / " + total + " 条 · showing " + shown + " of " + total;
  if (!shown) emptyRow("timeline", "none · 无");
  const next = (bundle.link || []).find((l) => l.relation === "next");
  // Follow the server's link on this page's own origin (the hub may sit behind a proxy).
  nextUrl = next ? new URL(next.url, location.href).pathname + new URL(next.url, location.href).search : null;
  more.hidden = !nextUrl;
  more.disabled = false;
}

async function openPatient(id) {
  if (!haveToken(ASK)) return;
  const current = asking();
  opened = current;
  hideError();
  let patient;
  try {
    patient = await getJson("/fhir/Patient/" + encodeURIComponent(id));
    // A member's record points at its community patient: show the whole person.
    const community = communityOf(patient);
    if (community) patient = await getJson("/fhir/Patient/" + encodeURIComponent(community));
  } catch (err) {
    if (!current()) return;
    $("content").hidden = true;
    showError(err.status === 404 ? "患者不存在 · Patient " + id + " is not known." : explain(err));
    return;
  }
  if (!current()) return;
  sources = {};
  shown = 0;
  nextUrl = null;
  $("timeline").querySelector("tbody").replaceChildren();
  $("sources").querySelector("tbody").replaceChildren();
  $("more").hidden = true;
  showPatient(patient);
  $("content").hidden = false;
  const everything = "/fhir/Patient/" + encodeURIComponent(patient.id) + "/$everything?_count=" + PAGE_SIZE;
  await Promise.all([loadRecognised(patient.id, current), loadTimeline(everything, patient, current)]);
}

function openFromForm() {
  const id = $("patient-id").value.trim();
  if (!id) { showError("Enter a patient id (a community id cp-… or a member's record id)."); return; }
  const query = new URLSearchParams({ id });
  for (const name of ["facility", "at"]) if ($(name).value.trim()) query.set(name, $(name).value.trim());
  history.replaceState(null, "", "?" + query); // a bookmarkable address of what is shown
  openPatient(id);
}

useTokenForm(() => {
  if ($("patient-id").value.trim()) openFromForm();
  else if (signedIn()) hideError();
}, () => {
  $("content").hidden = true;
  showError("Token forgotten. " + ASK);
});
$("patient-form").addEventListener("submit", (event) => { event.preventDefault(); openFromForm(); });
$("more").addEventListener("click", () => { if (nextUrl) loadTimeline(nextUrl, null, opened); });

const initial = new URLSearchParams(location.search);
for (const name of ["facility", "at"]) if (initial.get(name)) $(name).value = initial.get(name);
if (initial.get("id")) { $("patient-id").value = initial.get("id"); openPatient(initial.get("id")); }
else if (!signedIn()) showError("请先登录 · Log in first (/login). Operators: " + ASK);
