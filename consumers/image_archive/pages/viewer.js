// The image viewer: a study's series from QIDO-RS, each image from the hub's rendered frames
// (server-side window/level: no DICOM code in the browser). Wheel and arrow keys scroll a series, the
// presets and a drag set window/level, the measure tool gives a length in mm from PixelSpacing, and
// colour images (pathology slides, photographs) open with zoom and pan. Text from DICOM files is
// inserted with textContent only.
"use strict";
const { $, el, token, HttpError, showError, hideError, showFailure, haveToken, useTokenForm } = Hub;

const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);
const TAG = { modality: "00080060", seriesDescription: "0008103E", seriesNumber: "00200011",
  count: "00201209", sopUid: "00080018", seriesUid: "0020000E", instanceNumber: "00200013",
  frames: "00280008", rows: "00280010", columns: "00280011", spacing: "00280030",
  center: "00281050", width: "00281051", photometric: "00280004", studyDate: "00080020",
  studyDescription: "00081030", accession: "00080050" };
// Colour and whole-slide images: zoom and pan rather than window/level.
const COLOUR_MODALITIES = new Set(["SM", "XC", "GM", "OP", "ES", "DMS"]);
const PHOTO = /^(RGB|YBR|PALETTE)/;

const state = {
  study: null, series: [], current: null, frames: [], index: 0,
  window: null, // null: the file's default; else {center, width}
  tool: "window", scale: 1, tx: 0, ty: 0, colour: false,
  aspect: { x: 1, y: 1 }, // non-square pixels are drawn in their true proportions (PixelSpacing)
  measures: [], drawing: null, busy: false, pending: false, loaded: new Map(), shown: "",
};

function value(item, tag) {
  const element = item[tag];
  return element && element.Value && element.Value.length ? element.Value[0] : null;
}

function values(item, tag) {
  const element = item[tag];
  return element && element.Value ? element.Value : [];
}

// Calls with the pasted token, or the page session's cookie; a failure becomes an HttpError whose
// message is the OperationOutcome's diagnostics.
async function call(url, accept) {
  const headers = { Accept: accept };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(url, { headers, credentials: "same-origin" });
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).issue[0].diagnostics; } catch (_) { /* not an OperationOutcome */ }
    throw new HttpError(response.status, detail);
  }
  return response;
}

const dicomJson = async (url) => (await call(url, "application/dicom+json")).json();

// Opening a study ---------------------------------------------------------------------------------

async function openStudy(uid) {
  if (!uid || !haveToken(T("请粘贴阅片者令牌。", "Paste a bearer token with the reader role."))) return;
  state.study = uid;
  const base = "/dicomweb/studies/" + encodeURIComponent(uid);
  let studies, series;
  try {
    [studies, series] = await Promise.all([
      dicomJson("/dicomweb/studies?StudyInstanceUID=" + encodeURIComponent(uid)),
      dicomJson(base + "/series"),
    ]);
  } catch (err) {
    showFailure(err);
    return;
  }
  hideError();
  $("content").hidden = false;
  const study = studies[0] || {};
  $("study-facts").textContent = [value(study, TAG.studyDate), value(study, TAG.studyDescription),
    value(study, TAG.accession)].filter(Boolean).join(" · ");
  series.sort((a, b) => (value(a, TAG.seriesNumber) || 0) - (value(b, TAG.seriesNumber) || 0));
  state.series = series;
  const list = $("series");
  list.replaceChildren();
  for (const item of series) {
    const button = el("button", [value(item, TAG.modality), value(item, TAG.seriesNumber),
      value(item, TAG.seriesDescription)].filter((v) => v !== null && v !== "").join(" · ")
      + " (" + (value(item, TAG.count) || 0) + ")");
    button.type = "button";
    button.dataset.series = value(item, TAG.seriesUid);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => openSeries(button.dataset.series));
    const row = el("li");
    row.append(button);
    list.append(row);
  }
  const wanted = new URLSearchParams(location.search).get("series");
  const first = series.find((s) => value(s, TAG.seriesUid) === wanted)
    || series.find((s) => value(s, TAG.modality) !== "ECG") || series[0];
  if (first) await openSeries(value(first, TAG.seriesUid));
  else showError(T("该检查没有序列。", "The study has no series."));
}

async function openSeries(uid) {
  let instances;
  try {
    instances = await dicomJson("/dicomweb/studies/" + encodeURIComponent(state.study) + "/series/"
      + encodeURIComponent(uid) + "/instances?includefield=00280030,00281050,00281051,00280004,00280008");
  } catch (err) {
    showFailure(err);
    return;
  }
  for (const button of $("series").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.series === uid));
  }
  instances.sort((a, b) => (value(a, TAG.instanceNumber) || 0) - (value(b, TAG.instanceNumber) || 0));
  state.current = uid;
  state.frames = [];
  for (const item of instances) {
    const count = value(item, TAG.frames) || 0;
    for (let frame = 1; frame <= count; frame += 1) {
      state.frames.push({
        sop: value(item, TAG.sopUid), frame, rows: value(item, TAG.rows), columns: value(item, TAG.columns),
        spacing: values(item, TAG.spacing), center: value(item, TAG.center), width: value(item, TAG.width),
        photometric: value(item, TAG.photometric) || "",
      });
    }
  }
  const modality = value(state.series.find((s) => value(s, TAG.seriesUid) === uid) || {}, TAG.modality) || "";
  state.colour = COLOUR_MODALITIES.has(modality) || state.frames.some((f) => PHOTO.test(f.photometric));
  $("presets").hidden = state.colour;
  setTool(state.colour ? "pan" : "window");
  state.index = 0;
  state.window = null;
  state.measures = [];
  $("slider").max = String(Math.max(state.frames.length, 1));
  if (!state.frames.length) {
    $("image").removeAttribute("src");
    $("position").textContent = T("此序列没有图像（例如心电波形）", "This series has no images (e.g. an ECG waveform)");
    return;
  }
  await show(true);
}

// Drawing ------------------------------------------------------------------------------------------

function current() { return state.frames[state.index]; }

function renderedUrl(item) {
  let url = "/dicomweb/studies/" + encodeURIComponent(state.study) + "/series/" + encodeURIComponent(state.current)
    + "/instances/" + encodeURIComponent(item.sop) + "/frames/" + item.frame + "/rendered";
  if (state.window && !state.colour) {
    url += "?window=" + encodeURIComponent(Math.round(state.window.center) + "," + Math.round(state.window.width) + ",linear");
  }
  return url;
}

// Fetches the current image; while one is on its way, the newest wish waits and is fetched next, so
// a fast scroll or drag never queues dozens of renders.
async function show(fit) {
  const item = current();
  if (!item) return;
  updateReadout();
  if (fit) fitToStage(item);
  if (state.busy) { state.pending = true; return; }
  state.busy = true;
  $("loading").hidden = false;
  try {
    for (;;) {
      state.pending = false;
      const wanted = current();
      const url = renderedUrl(wanted);
      if (url !== state.shown) {
        let objectUrl = state.loaded.get(url);
        if (!objectUrl) {
          const blob = await (await call(url, "image/png")).blob();
          objectUrl = URL.createObjectURL(blob);
          remember(url, objectUrl);
        }
        await new Promise((resolve) => {
          $("image").onload = resolve; $("image").onerror = resolve; $("image").src = objectUrl;
        });
        state.shown = url;
        $("image").dataset.url = url;
      }
      if (!state.pending) break;
    }
    hideError();
  } catch (err) {
    showFailure(err);
  } finally {
    state.busy = false;
    $("loading").hidden = true;
  }
  drawMeasures();
}

function remember(url, objectUrl) {
  state.loaded.set(url, objectUrl);
  if (state.loaded.size > 300) { // a bounded cache of rendered images: scrolling back is instant
    const [oldest, old] = state.loaded.entries().next().value;
    state.loaded.delete(oldest);
    if (old !== objectUrl) URL.revokeObjectURL(old);
  }
}

function updateReadout() {
  const item = current();
  const multiFrame = state.frames.filter((f) => f.sop === item.sop).length > 1;
  $("position").textContent = (state.index + 1) + " / " + state.frames.length
    + (multiFrame ? " (" + T("帧", "frame") + " " + item.frame + ")" : "");
  $("slider").value = String(state.index + 1);
  if (state.colour) $("window").textContent = T("彩色图像，不适用", "colour image: not applicable");
  else if (state.window) $("window").textContent = Math.round(state.window.center) + " / " + Math.round(state.window.width);
  else if (item.center !== null && item.width !== null) {
    $("window").textContent = item.center + " / " + item.width + " (" + T("文件默认", "file default") + ")";
  } else $("window").textContent = T("自动（图像范围）", "auto (image range)");
  $("spacing").textContent = item.spacing.length === 2 ? item.spacing[0] + " × " + item.spacing[1] + " mm"
    : T("无（只能以像素测量）", "none (lengths in pixels only)");
  for (const button of $("presets").querySelectorAll("button")) {
    const active = state.window ? Number(button.dataset.center) === state.window.center
      && Number(button.dataset.width) === state.window.width : button.dataset.preset === "default";
    button.classList.toggle("active", active);
  }
}

function applyTransform() {
  $("layer").style.transform = "translate(" + state.tx + "px," + state.ty + "px) scale(" + state.scale + ")";
  $("zoom").textContent = Math.round(state.scale * 100) + "%";
  drawMeasures();
}

function fitToStage(item) {
  const stage = $("stage").getBoundingClientRect();
  const [rowMm, columnMm] = item.spacing.length === 2 ? item.spacing.map(Number) : [1, 1];
  const smaller = Math.min(rowMm, columnMm) || 1;
  state.aspect = { x: columnMm / smaller || 1, y: rowMm / smaller || 1 };
  const columns = (item.columns || 1) * state.aspect.x;
  const rows = (item.rows || 1) * state.aspect.y;
  $("image").style.width = columns + "px";
  $("image").style.height = rows + "px";
  state.scale = Math.min(stage.width / columns, stage.height / rows);
  state.tx = (stage.width - columns * state.scale) / 2;
  state.ty = (stage.height - rows * state.scale) / 2;
  applyTransform();
}

function zoomAt(factor, sx, sy) {
  const next = Math.min(Math.max(state.scale * factor, 0.05), 64);
  state.tx = sx - (sx - state.tx) * (next / state.scale);
  state.ty = sy - (sy - state.ty) * (next / state.scale);
  state.scale = next;
  applyTransform();
}

function go(step) {
  if (!state.frames.length) return;
  const next = Math.min(Math.max(state.index + step, 0), state.frames.length - 1);
  if (next === state.index) return;
  state.index = next;
  show(false);
}

function setWindow(center, width) {
  state.window = center === null ? null : { center, width: Math.max(width, 1) };
  show(false);
}

// Measurements -------------------------------------------------------------------------------------

function toImage(event) {
  const stage = $("stage").getBoundingClientRect();
  return { x: (event.clientX - stage.left - state.tx) / state.scale / state.aspect.x,
    y: (event.clientY - stage.top - state.ty) / state.scale / state.aspect.y };
}

function length(item, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  if (item.spacing.length === 2) { // PixelSpacing: between rows (vertical), then between columns
    const mm = Math.hypot(dx * Number(item.spacing[1]), dy * Number(item.spacing[0]));
    return mm < 1 ? (mm * 1000).toFixed(1) + " µm" : mm.toFixed(1) + " mm"; // slides measure in micrometres
  }
  return Math.hypot(dx, dy).toFixed(1) + " px (" + T("无像素间距", "no pixel spacing") + ")";
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function drawMeasures() {
  const overlay = $("overlay");
  overlay.replaceChildren();
  const item = current();
  if (!item) return;
  const here = (p) => ({ x: state.tx + p.x * state.scale * state.aspect.x, y: state.ty + p.y * state.scale * state.aspect.y });
  const lines = state.measures.filter((m) => m.sop === item.sop && m.frame === item.frame);
  if (state.drawing) lines.push(state.drawing);
  for (const m of lines) {
    const a = here(m.a);
    const b = here(m.b);
    overlay.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y }));
    const label = svg("text", { x: b.x + 6, y: b.y - 6 });
    label.textContent = m.text;
    overlay.append(label);
  }
}

// Tools and input ----------------------------------------------------------------------------------

function setTool(tool) {
  state.tool = tool;
  for (const button of $("tool-buttons").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
  }
  $("stage").style.cursor = tool === "pan" ? "grab" : "crosshair";
}

function wire() {
  const stage = $("stage");
  for (const button of $("tool-buttons").querySelectorAll("button")) {
    button.addEventListener("click", () => setTool(button.dataset.tool));
  }
  for (const button of $("presets").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      if (button.dataset.preset === "default") setWindow(null, null);
      else setWindow(Number(button.dataset.center), Number(button.dataset.width));
    });
  }
  $("zoom-in").addEventListener("click", () => zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2));
  $("zoom-fit").addEventListener("click", () => current() && fitToStage(current()));
  $("clear-measure").addEventListener("click", () => {
    state.measures = [];
    $("measurement").textContent = "–";
    drawMeasures();
  });
  $("slider").addEventListener("input", () => { state.index = Number($("slider").value) - 1; show(false); });

  stage.addEventListener("wheel", (event) => {
    event.preventDefault();
    if (state.colour || event.ctrlKey) {
      const box = stage.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
    } else go(event.deltaY > 0 ? 1 : -1);
  }, { passive: false });

  // Keys scroll wherever the focus is, except where they type or move a control of their own.
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    const steps = { ArrowDown: 1, ArrowRight: 1, PageDown: 10, ArrowUp: -1, ArrowLeft: -1, PageUp: -10,
      Home: -1e9, End: 1e9 };
    if (event.key in steps) { event.preventDefault(); go(steps[event.key]); }
    else if (event.key === "+" || event.key === "=") zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2);
    else if (event.key === "-") zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2);
  });

  let drag = null;
  stage.addEventListener("pointerdown", (event) => {
    if (!current() || event.button !== 0) return;
    stage.focus();
    stage.setPointerCapture(event.pointerId);
    drag = { x: event.clientX, y: event.clientY, tx: state.tx, ty: state.ty, tool: state.tool };
    const item = current();
    if (drag.tool === "window" && !state.colour) {
      drag.center = state.window ? state.window.center : (item.center ?? 0);
      drag.width = state.window ? state.window.width : (item.width ?? 400);
    } else if (drag.tool === "measure") {
      const at = toImage(event);
      state.drawing = { sop: item.sop, frame: item.frame, a: at, b: at, text: "" };
    }
  });
  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (drag.tool === "pan" || (drag.tool === "window" && state.colour)) {
      state.tx = drag.tx + dx; state.ty = drag.ty + dy; applyTransform();
    } else if (drag.tool === "window") {
      const step = Math.max(drag.width / 256, 1); // a wide window moves faster
      setWindow(drag.center + dy * step, drag.width + dx * step);
    } else if (drag.tool === "measure" && state.drawing) {
      state.drawing.b = toImage(event);
      state.drawing.text = length(current(), state.drawing.a, state.drawing.b);
      drawMeasures();
    }
  });
  const end = () => {
    if (drag && drag.tool === "measure" && state.drawing) {
      const m = state.drawing;
      state.drawing = null;
      if (Math.hypot(m.b.x - m.a.x, m.b.y - m.a.y) > 0) {
        m.text = length(current(), m.a, m.b);
        state.measures.push(m);
        $("measurement").textContent = m.text;
      }
      drawMeasures();
    }
    drag = null;
  };
  stage.addEventListener("pointerup", end);
  stage.addEventListener("pointercancel", end);
  window.addEventListener("resize", () => current() && fitToStage(current()));

  $("open-study").addEventListener("submit", (event) => {
    event.preventDefault();
    const uid = $("study-uid").value.trim();
    if (!uid) return;
    const params = new URLSearchParams({ study: uid });
    history.replaceState(null, "", location.pathname + "?" + params);
    openStudy(uid);
  });
}

if (window.self !== window.top) document.body.classList.add("embedded"); // inside the reading workbench
wire();
const asked = new URLSearchParams(location.search).get("study");
$("study-uid").value = asked || "";
useTokenForm(() => openStudy($("study-uid").value.trim()));
if (asked) openStudy(asked);
else showError(T("请输入检查 UID，或从阅片工作台打开。", "Enter a study UID, or open the viewer from the reading workbench."));
