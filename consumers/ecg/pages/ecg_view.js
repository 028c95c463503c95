// The ECG page (/ecg/view?study=ID): the viewer, the hub's measurements beside the device's, the
// study's problems, and the same patient's earlier ECGs from every member, any of which can be drawn
// below for comparison. Text from member systems is inserted with textContent only.
"use strict";
(() => {
  const { $, cell, el, fill, getJson, haveToken, hideError, showFailure, useTokenForm, when } = Hub;
  const lang = document.documentElement.lang === "en" ? "en" : "zh";
  const ROWS = [
    ["heart_rate", "heart_rate", "心率 Heart rate", "/min"], ["pr_ms", "pr_ms", "PR", "ms"],
    ["qrs_ms", "qrs_ms", "QRS", "ms"], ["qt_ms", "qt_ms", "QT", "ms"], ["qtc_bazett_ms", "qtc_ms", "QTc (Bazett)", "ms"],
    ["p_axis", "p_axis", "P axis 电轴", "°"], ["qrs_axis", "qrs_axis", "QRS axis 电轴", "°"],
    ["t_axis", "t_axis", "T axis 电轴", "°"],
  ];
  const STATUS = { measured: "已测量 measured", invalid: "波形无效 invalid", unmeasurable: "无法测量 unmeasurable" };
  const round = (v) => (v === null || v === undefined ? null : Math.round(v));
  let viewer = null;

  async function refresh() {
    if (!haveToken("Paste a bearer token with the reader or clinician role.")) return;
    const ref = new URLSearchParams(location.search).get("study");
    if (!ref) { Hub.showError(lang === "en" ? "No study given: open /ecg/view?study=<id>" : "未指定检查：/ecg/view?study=<id>"); return; }
    let study, history;
    try {
      [study, history] = await Promise.all([
        getJson("/api/ecg/studies/" + encodeURIComponent(ref)),
        getJson("/api/ecg/studies/" + encodeURIComponent(ref) + "/history"),
      ]);
    } catch (err) { showFailure(err); return; }
    hideError();
    $("content").hidden = false;
    $("study-title").textContent = [study.facility_id, when(study.started_at), study.description, STATUS[study.status]]
      .filter(Boolean).join(" · ");
    const problems = $("problems");
    problems.replaceChildren(...study.problems.map((p) => el("li", p[lang] || p.en, p.severity === "error" ? "bad" : "warn")));
    const hub = study.measurements || {}, device = study.device || {};
    fill("measurements", ROWS, (tr, [key, deviceKey, label, unit]) => {
      cell(tr, label); cell(tr, round(hub[key]), "num"); cell(tr, round(device[deviceKey]), "num"); cell(tr, unit);
    }, "–");
    if (!viewer) viewer = HubEcgViewer.mount($("viewer"), { lang });
    viewer.show(study.leads);
    fill("history", history.items.filter((h) => h.id !== study.id), (tr, h) => {
      const m = h.measurements || {};
      cell(tr, when(h.started_at)); cell(tr, h.facility_id); cell(tr, round(m.heart_rate), "num");
      cell(tr, round(m.pr_ms), "num"); cell(tr, round(m.qrs_ms), "num");
      cell(tr, m.qt_ms ? round(m.qt_ms) + "/" + round(m.qtc_bazett_ms) : null, "num");
      cell(tr, m.qrs_axis !== undefined && m.qrs_axis !== null ? round(m.qrs_axis) + "°" : null, "num");
      cell(tr, STATUS[h.status] || h.status);
      const button = el("button", lang === "en" ? "Compare" : "对比");
      button.type = "button";
      button.addEventListener("click", () => {
        const box = el("div");
        box.appendChild(el("h3", when(h.started_at) + " · " + h.facility_id));
        const holder = el("div");
        box.appendChild(holder);
        $("compare").replaceChildren(box);
        HubEcgViewer.mount(holder, { lang, leadsUrl: "/api/ecg/studies/" + encodeURIComponent(h.id), fetchJson: getJson });
      });
      tr.appendChild(el("td")).appendChild(button);
    }, lang === "en" ? "none" : "无");
  }

  useTokenForm(refresh);
  refresh();
})();
