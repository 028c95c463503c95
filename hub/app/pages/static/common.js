// What the hub's pages share, loaded before each page's own script: who is calling (the page session
// or a pasted bearer token), calls to the API, error messages in #error, the header's account bar and
// language switch, and small DOM and formatting helpers. Plain browser JS, no build:
// everything hangs off one global, Hub, and a page takes what it needs with
// `const { $, cell, ... } = Hub;`. Text is always inserted with textContent, never as HTML: names,
// results and dead-letter reasons come from member systems and must never run.
"use strict";
const Hub = (() => {
  const $ = (id) => document.getElementById(id);

  // Who is calling ----------------------------------------------------------------------------------
  // People log in at /login: the session lives in an HttpOnly cookie this script never sees, and
  // every state-changing call carries the session's CSRF token (from the hub_csrf cookie) in
  // X-CSRF-Token. Operators may instead paste a bearer token: one per tab, in sessionStorage, so it
  // is gone when the tab closes; while one is pasted it is used instead of the session.

  const TOKEN_KEY = "hub.token";

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  // Whether a login session is (as far as the page can tell) open; the hub decides on each call.
  function hasSession() {
    return cookie("hub_csrf") !== "";
  }

  function signedIn() {
    return Boolean(token()) || hasSession();
  }

  // Wires the header's paste form (#token-form, #token) and its Forget button (#forget), if the page has one.
  // onUse runs after a token was pasted, onForget after it was dropped (onUse again if not given).
  function useTokenForm(onUse, onForget = onUse) {
    if (!$("token-form")) return;
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      onUse();
    });
    $("forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      onForget();
    });
  }

  // Calls to the API --------------------------------------------------------------------------------

  // A non-2xx answer: the HTTP status, and the OperationOutcome's diagnostics as the message.
  class HttpError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  // Sends the token, sends `body` (if any) as JSON and returns the parsed JSON answer. Throws an
  // HttpError for a non-2xx answer; a network failure throws fetch's own error.
  async function request(method, url, body) {
    const init = { method, headers: {}, credentials: "same-origin" };
    if (token()) init.headers.Authorization = "Bearer " + token();
    else if (method !== "GET") init.headers["X-CSRF-Token"] = cookie("hub_csrf");
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (!response.ok) {
      let detail = "";
      try { detail = (await response.json()).issue[0].diagnostics; } catch (_) { /* not an OperationOutcome */ }
      throw new HttpError(response.status, detail);
    }
    return response.json();
  }

  const getJson = (url) => request("GET", url);

  // Answers can arrive out of order (a reload re-asks while the person picks something else), so a
  // page draws only the answer to its latest question of a kind:
  //   const asking = newest();  ...  const current = asking();  await getJson(...);  if (!current()) return;
  function newest() {
    let asked = 0;
    return () => {
      const mine = ++asked;
      return () => mine === asked;
    };
  }

  // Errors a person sees ----------------------------------------------------------------------------

  function isRejected(err) {
    return err instanceof HttpError && (err.status === 401 || err.status === 403);
  }

  // The one wording of a failed call, on every page.
  function explain(err) {
    if (!(err instanceof HttpError)) return "The hub did not answer: " + err.message;
    if (isRejected(err) && !token()) {
      return (err.status === 401 ? "请重新登录 · Please log in again (401): " : "无权限 · Not allowed (403): ") + err.message;
    }
    if (isRejected(err)) return "Token rejected (" + err.status + "): " + err.message;
    return "HTTP " + err.status + (err.message ? ": " + err.message : "");
  }

  function showError(message) { $("error").textContent = message; $("error").hidden = false; }
  function hideError() { $("error").hidden = true; }

  // A failed load of the page's data: a rejected token also hides what an earlier token showed.
  function showFailure(err) {
    if (isRejected(err)) $("content").hidden = true;
    showError(explain(err));
  }

  // Whether there is a session or a token to call with; if not, hides the page's data and asks.
  function haveToken(ask) {
    if (signedIn()) return true;
    $("content").hidden = true;
    showError("请先登录 · Log in first (/login). Operators: " + ask);
    return false;
  }

  // The account bar in each page's header: who is logged in and Log out, or a Log in link.
  async function showAccount() {
    const header = document.querySelector("header");
    // The login page is where the Log in link would lead: it shows no account bar.
    if (!header || $("account") || location.pathname === "/login") return;
    const bar = el("div", null, "account");
    bar.id = "account";
    header.appendChild(bar);
    let who = null;
    if (hasSession()) {
      try {
        const response = await fetch("/api/session", { credentials: "same-origin" });
        if (response.ok) who = await response.json();
      } catch (_) { /* the page's own calls will say the hub did not answer */ }
    }
    if (who && who.via === "session") {
      bar.appendChild(el("span", who.user + " · " + who.role + (who.facility ? " · " + who.facility : ""), "who"));
      const out = el("button", "退出 · Log out");
      out.type = "button";
      out.id = "logout";
      out.addEventListener("click", async () => {
        await fetch("/api/logout", { method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": cookie("hub_csrf") } });
        location.href = "/login";
      });
      bar.appendChild(out);
    } else {
      const link = el("a", "登录 · Log in");
      link.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      link.id = "login-link";
      bar.appendChild(link);
    }
  }

  // DOM helpers -------------------------------------------------------------------------------------

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // Appends a table cell to `row` and returns it; a missing or empty value shows as "–".
  function cell(row, text, cls) {
    const td = el("td", text === null || text === undefined || text === "" ? "–" : text, cls);
    row.appendChild(td);
    return td;
  }

  // One full-width row saying the table is empty.
  function emptyRow(tableId, text) {
    const tr = document.createElement("tr");
    cell(tr, text).colSpan = $(tableId).querySelectorAll("thead th").length;
    $(tableId).querySelector("tbody").appendChild(tr);
  }

  // Replaces the table's rows with one per item, drawn by render(tr, item); `none` if there are none.
  function fill(tableId, rows, render, none) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const item of rows) {
      const tr = document.createElement("tr");
      render(tr, item);
      body.appendChild(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      cell(tr, none);
      body.appendChild(tr);
    }
  }

  // Times ---------------------------------------------------------------------------------------------

  const CHINA = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  // "YYYY-MM-DD HH:MM" in China time, as the members record it (only the date if dateOnly).
  function when(value, dateOnly) {
    if (!value) return "–";
    if (/^\d{4}(-\d{2}){0,2}$/.test(value)) return value; // a plain date stays as written
    const moment = new Date(value);
    if (Number.isNaN(moment.getTime())) return value;
    const text = CHINA.format(moment);
    return dateOnly ? text.slice(0, 10) : text;
  }

  // What a FHIR Patient says, read the same way on every page ----------------------------------------

  const RESIDENT_ID = "urn:oid:2.16.156.10011.1.3";
  const GENDERS = { male: "男 male", female: "女 female", other: "其他 other", unknown: "未知 unknown" };

  function nameOf(p) {
    const n = (p.name || [])[0];
    return n ? n.text || (n.family || "") + (n.given || []).join("") : "";
  }

  function addressOf(p) {
    const a = (p.address || [])[0];
    return a ? a.text || [a.district, ...(a.line || [])].filter(Boolean).join(" ") : "";
  }

  function phonesOf(p) {
    return (p.telecom || []).filter((t) => t.system === "phone" || t.system === "sms").map((t) => t.value).join(", ");
  }

  function residentIds(p) {
    return (p.identifier || []).filter((i) => i.system === RESIDENT_ID).map((i) => i.value).join(", ");
  }

  // The community patient a member's record points at ("" for a community patient itself).
  function communityOf(p) {
    const refer = (p.link || []).find((l) => l.type === "refer");
    return refer ? refer.other.reference.replace(/^Patient\//, "") : "";
  }

  // Language of the chrome ----------------------------------------------------------------------------
  // The hub renders the navigation and the titles in the language the hub_lang cookie names (base.html);
  // the switch in the header stores the choice for a year and shows the page again in it.

  const LANGUAGE_COOKIE = "hub_lang";

  function wireLanguageSwitch() {
    for (const button of document.querySelectorAll("#language button[data-lang]")) {
      button.addEventListener("click", () => {
        if (button.getAttribute("aria-pressed") === "true") return;
        document.cookie = LANGUAGE_COOKIE + "=" + button.dataset.lang + "; path=/; max-age=31536000; samesite=lax";
        location.reload();
      });
    }
  }

  function dressPage() {
    wireLanguageSwitch();
    showAccount();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", dressPage);
  else dressPage();

  return Object.freeze({
    $, token, signedIn, cookie, useTokenForm,
    HttpError, request, getJson, newest,
    isRejected, explain, showError, hideError, showFailure, haveToken,
    el, cell, emptyRow, fill,
    when,
    GENDERS, nameOf, addressOf, phonesOf, residentIds, communityOf,
  });
})();
