// The hub's 12-lead ECG viewer: ECG paper on a canvas (1 mm / 5 mm grid), 25 mm/s and 10 mm/mV by
// default with speed and gain switches, the standard 3×4 layout (I, II, III | aVR, aVL, aVF |
// V1–V3 | V4–V6, 2.5 s each) over a 10 s lead II rhythm strip, a 1 mV calibration pulse per row,
// zoom, and calipers (drag: Δt in ms, Δamplitude in mV, rate in /min).
// Plain canvas, no library. Millimetres are honest: 1 mm = 96/25.4 CSS px (CSS's own inch) times
// the zoom, drawn at the device pixel ratio; a screen whose CSS inch is off can be corrected with
// the `pxPerMm` option (measure a 100 mm line on the screen once).
// Use: HubEcgViewer.mount(element, {leadsUrl, lang, fetchJson}) -> viewer; or {waveform} directly.
// The leads JSON is the hub's `application/vnd.hub.ecg+json` (or an object with it under `leads`).
"use strict";
const HubEcgViewer = (() => {
  const LAYOUT = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]];
  const RHYTHM = "II";
  const SPEEDS = [12.5, 25, 50]; // mm/s
  const GAINS = [5, 10, 20]; // mm/mV
  const ZOOMS = [1, 1.5, 2, 3];
  const CSS_PX_PER_MM = 96 / 25.4;
  const TEXT = {
    zh: { speed: "走纸速度", gain: "增益", zoom: "缩放", caliper: "拖动测量", rate: "心率", none: "无波形",
      missing: "缺少导联" },
    en: { speed: "Speed", gain: "Gain", zoom: "Zoom", caliper: "Drag to measure", rate: "rate", none: "No waveform",
      missing: "Missing lead" },
  };

  function standardLabel(label) {
    const text = String(label).replace(/\(.*?\)/g, "").replace(/^(lead|导联)\s*/i, "").trim();
    const names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
    return names.find((n) => n.toLowerCase() === text.toLowerCase()) || null;
  }

  // The twelve leads in mV (III, aVR, aVL, aVF derived from I and II when a cart sent eight).
  function normalise(raw) {
    const data = raw && raw.leads && !Array.isArray(raw.leads) ? raw.leads : raw;
    if (!data || !Array.isArray(data.leads)) return null;
    const scale = data.units === "mV" ? 1 : 0.001;
    const leads = {};
    for (const lead of data.leads) {
      const name = standardLabel(lead.label);
      if (name && !leads[name]) leads[name] = lead.samples.map((v) => (v === null ? NaN : v * scale));
    }
    const I = leads.I, II = leads.II;
    if (I && II) {
      const derive = { III: (a, b) => b - a, aVR: (a, b) => -(a + b) / 2, aVL: (a, b) => a - b / 2, aVF: (a, b) => b - a / 2 };
      for (const [name, f] of Object.entries(derive)) if (!leads[name]) leads[name] = I.map((a, i) => f(a, II[i]));
    }
    return { fs: Number(data.sampling_frequency), leads };
  }

  function mount(element, options = {}) {
    const lang = options.lang === "en" ? "en" : "zh";
    const t = TEXT[lang];
    const state = { speed: 25, gain: 10, zoom: 1, ecg: null, caliper: null, drag: null };
    const pxPerMm = () => (options.pxPerMm || CSS_PX_PER_MM) * state.zoom;
    element.classList.add("hub-ecg");
    element.replaceChildren();
    const bar = document.createElement("div");
    bar.className = "hub-ecg-bar";
    const wrap = document.createElement("div");
    wrap.className = "hub-ecg-paper";
    const canvas = document.createElement("canvas");
    canvas.className = "hub-ecg-canvas";
    const readout = document.createElement("output");
    readout.className = "hub-ecg-readout";
    readout.textContent = t.caliper;
    wrap.appendChild(canvas);
    element.append(bar, wrap, readout);

    function group(name, values, unit, key) {
      const box = document.createElement("span");
      box.className = "hub-ecg-switch";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", t[name]);
      box.appendChild(Object.assign(document.createElement("span"), { textContent: t[name] + " " }));
      for (const value of values) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = value + unit;
        button.dataset[key] = String(value);
        button.addEventListener("click", () => { state[key] = value; draw(); });
        box.appendChild(button);
      }
      bar.appendChild(box);
    }
    group("speed", SPEEDS, " mm/s", "speed");
    group("gain", GAINS, " mm/mV", "gain");
    group("zoom", ZOOMS, "×", "zoom");

    // Geometry in mm: each row is 3 big squares high (15 mm at 10 mm/mV is ±1.5 mV) ...
    function geometry() {
      const rowMm = Math.max(25, 3 * state.gain);
      const calMm = 10; // the calibration pulse and the lead's label
      const stripS = 10, cellS = 2.5;
      const widthMm = calMm + stripS * state.speed;
      return { rowMm, calMm, cellS, stripS, widthMm, heightMm: rowMm * 4 + 4 };
    }

    function draw() {
      for (const button of bar.querySelectorAll("button")) {
        const key = Object.keys(button.dataset)[0];
        button.setAttribute("aria-pressed", String(Number(button.dataset[key]) === state[key]));
      }
      const g = geometry();
      const mm = pxPerMm();
      const dpr = window.devicePixelRatio || 1;
      canvas.style.width = g.widthMm * mm + "px";
      canvas.style.height = g.heightMm * mm + "px";
      canvas.width = Math.round(g.widthMm * mm * dpr);
      canvas.height = Math.round(g.heightMm * mm * dpr);
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr * mm, 0, 0, dpr * mm, 0, 0); // from here on, units are millimetres
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, g.widthMm, g.heightMm);
      grid(ctx, g, dpr * mm);
      const drawn = [];
      if (!state.ecg) {
        ctx.fillStyle = "#333"; ctx.font = "5px sans-serif"; ctx.fillText(t.none, 12, 12);
      } else {
        LAYOUT.forEach((row, r) => {
          const base = g.rowMm * (r + 0.5) + 2;
          calibration(ctx, 2, base, g);
          row.forEach((name, c) => {
            const x0 = g.calMm + c * g.cellS * state.speed;
            if (trace(ctx, name, x0, base, c * g.cellS, g.cellS, g)) drawn.push(name);
          });
        });
        const base = g.rowMm * 3.5 + 2;
        calibration(ctx, 2, base, g);
        if (trace(ctx, RHYTHM, g.calMm, base, 0, g.stripS, g)) drawn.push("rhythm:" + RHYTHM);
      }
      element.dataset.leads = drawn.join(",");
      element.dataset.speed = String(state.speed);
      element.dataset.gain = String(state.gain);
      element.dataset.zoom = String(state.zoom);
      element.dataset.pxPerMm = String(mm);
      if (state.caliper) caliper(ctx, state.caliper, g);
    }

    function grid(ctx, g, pxPerUnit) {
      const hair = 1 / pxPerUnit; // one device pixel
      for (let x = 0; x <= g.widthMm + 0.001; x += 1) line(ctx, x, 0, x, g.heightMm, x % 5 === 0 ? "#f08a8a" : "#fbd3d3", x % 5 === 0 ? 2 * hair : hair);
      for (let y = 0; y <= g.heightMm + 0.001; y += 1) line(ctx, 0, y, g.widthMm, y, y % 5 === 0 ? "#f08a8a" : "#fbd3d3", y % 5 === 0 ? 2 * hair : hair);
    }

    function line(ctx, x1, y1, x2, y2, colour, width) {
      ctx.strokeStyle = colour; ctx.lineWidth = width;
      ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
    }

    function calibration(ctx, x, base, g) { // 1 mV for 200 ms
      const w = 0.2 * state.speed, h = state.gain;
      ctx.strokeStyle = "#000"; ctx.lineWidth = 0.25;
      ctx.beginPath(); ctx.moveTo(x, base); ctx.lineTo(x + 1, base); ctx.lineTo(x + 1, base - h);
      ctx.lineTo(x + 1 + w, base - h); ctx.lineTo(x + 1 + w, base); ctx.lineTo(x + 2 + w, base); ctx.stroke();
    }

    function trace(ctx, name, x0, base, fromS, seconds, g) {
      const samples = state.ecg.leads[name];
      ctx.fillStyle = "#000"; ctx.font = "3.5px sans-serif";
      ctx.fillText(name, x0 + 1, base - g.rowMm * 0.3);
      if (!samples) { ctx.fillText(t.missing, x0 + 6, base - g.rowMm * 0.3); return false; }
      const fs = state.ecg.fs;
      const first = Math.floor(fromS * fs), last = Math.min(samples.length, Math.floor((fromS + seconds) * fs));
      // The lead's own baseline: the median of its samples, so wander does not push it off its row.
      const sorted = samples.slice(first, last).filter(Number.isFinite).sort((a, b) => a - b);
      const level = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
      ctx.strokeStyle = "#000"; ctx.lineWidth = 0.3; ctx.lineJoin = "round";
      ctx.beginPath();
      let pen = false;
      for (let i = first; i < last; i++) {
        const v = samples[i];
        if (!Number.isFinite(v)) { pen = false; continue; }
        const x = x0 + ((i - first) / fs) * state.speed, y = base - (v - level) * state.gain;
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
      return true;
    }

    // Calipers: positions are kept in mm of paper, so the readout follows the grid, not the pixels.
    function toMm(event) {
      const box = canvas.getBoundingClientRect();
      return { x: (event.clientX - box.left) / pxPerMm(), y: (event.clientY - box.top) / pxPerMm() };
    }

    function caliper(ctx, c, g) {
      ctx.save();
      ctx.setLineDash([1, 1]);
      line(ctx, c.a.x, 0, c.a.x, g.heightMm, "#1565c0", 0.25);
      line(ctx, c.b.x, 0, c.b.x, g.heightMm, "#1565c0", 0.25);
      line(ctx, c.a.x, c.a.y, c.b.x, c.b.y, "#1565c0", 0.25);
      ctx.restore();
    }

    function measureCaliper(c) {
      const ms = (Math.abs(c.b.x - c.a.x) / state.speed) * 1000;
      const mv = (c.a.y - c.b.y) / state.gain;
      const rate = ms > 0 ? 60000 / ms : null;
      return { ms, mv, rate };
    }

    function showCaliper() {
      const m = measureCaliper(state.caliper);
      readout.textContent = "Δt " + Math.round(m.ms) + " ms · ΔV " + m.mv.toFixed(2) + " mV" +
        (m.rate && m.ms >= 200 ? " · " + t.rate + " " + Math.round(m.rate) + " /min" : "");
      element.dataset.caliperMs = m.ms.toFixed(1);
      element.dataset.caliperMv = m.mv.toFixed(3);
    }

    canvas.addEventListener("pointerdown", (event) => {
      const at = toMm(event);
      state.drag = true;
      state.caliper = { a: at, b: at };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!state.drag) return;
      state.caliper.b = toMm(event);
      draw();
      showCaliper();
    });
    canvas.addEventListener("pointerup", () => { state.drag = false; });

    async function load(url) {
      const fetchJson = options.fetchJson || (async (u) => {
        const response = await fetch(u, { credentials: "same-origin" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
      show(await fetchJson(url));
    }

    function show(raw) {
      state.ecg = normalise(raw);
      state.caliper = null;
      draw();
    }

    const viewer = {
      show, load, draw,
      set(settings) { Object.assign(state, settings); draw(); },
      measure: () => (state.caliper ? measureCaliper(state.caliper) : null),
      pxPerMm,
    };
    if (options.waveform) show(options.waveform);
    else if (options.leadsUrl) load(options.leadsUrl).catch((err) => { readout.textContent = String(err.message || err); });
    else draw();
    return viewer;
  }

  return { mount, normalise };
})();
// A top-level const is not a property of window: other pages (the reading workbench) look for it there.
window.HubEcgViewer = HubEcgViewer;
