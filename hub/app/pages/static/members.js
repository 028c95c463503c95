// Status page, members section: each member facility judged against its own usual traffic (GET /api/members).
// Its own poll, so the section never waits for the broker questions of /api/status. Text via textContent only.
"use strict";
(() => {
  const { $, cell, fill, getJson, newest, signedIn } = Hub;
  const asking = newest(); // re-read every 5 s: only the latest answer is drawn
  const zh = () => document.documentElement.lang.startsWith("zh");
  const STATES = {
    ok: ["正常", "sending"],
    silent: ["沉默", "SILENT"],
    learning: ["学习中", "learning"],
    sparse: ["流量过少", "too sparse to judge"],
  };

  function word(state) {
    const pair = STATES[state] || [state, state];
    return zh() ? pair[0] : pair[1];
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h >= 48) return Math.floor(h / 24) + (zh() ? " 天 " : " d ") + (h % 24) + (zh() ? " 小时" : " h");
    if (h) return h + (zh() ? " 小时 " : " h ") + m + (zh() ? " 分" : " min");
    return m + (zh() ? " 分 " : " min ") + (s % 60) + (zh() ? " 秒" : " s");
  }

  function show(members) {
    const silent = members.filter((m) => m.state === "silent").map((m) => m.facility_id);
    const summary = $("members-silent");
    summary.textContent = silent.length
      ? (zh() ? "沉默的成员单位：" : "Silent members: ") + silent.join(", ")
      : (zh() ? "没有沉默的成员单位" : "No member is silent");
    summary.className = "state " + (silent.length ? "bad" : "ok");
    fill("members-table", members, (tr, m) => {
      if (m.state === "silent") tr.className = "bad";
      cell(tr, m.facility_id);
      cell(tr, word(m.state), m.state === "silent" ? "bad" : "");
      cell(tr, m.last_event_at ? new Date(m.last_event_at * 1000).toLocaleString() : "–");
      cell(tr, duration(m.quiet_for_s), "num");
      cell(tr, duration(m.threshold_s), "num");
      cell(tr, m.usual_per_hour.toFixed(2), "num");
      cell(tr, m.expected_since_last.toFixed(1), "num");
      cell(tr, m.history_days.toFixed(1), "num");
    }, zh() ? "尚未收到任何成员单位的事件" : "no member heard from yet");
  }

  async function refresh() {
    if (!signedIn()) return;  // status.js asks for the token
    const current = asking();
    try {
      const members = await getJson("/api/members");
      if (current()) show(members);
    } catch (err) {
      if (!current()) return;
      $("members-silent").textContent = (zh() ? "无法读取成员单位：" : "Members could not be read: ") + err.message;
      $("members-silent").className = "state bad";
    }
  }

  Hub.useTokenForm(refresh);
  refresh();
  setInterval(refresh, 5000);
})();
