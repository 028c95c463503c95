// Login page: starts a page session (POST /api/login) and goes back to the page that asked for it.
// The session cookie is HttpOnly: this script never sees it.
"use strict";
const { $, explain, hideError, request, showError } = Hub;

// Only a path of this site: `next` comes from the address bar and must not send anyone elsewhere.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/(?![\/\\])/.test(next) && !next.startsWith("/login") ? next : "/patient";
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  hideError();
  $("login").disabled = true;
  try {
    await request("POST", "/api/login", { username: $("username").value.trim(), password: $("password").value });
    sessionStorage.removeItem("hub.token"); // the session now speaks for this tab
    location.href = nextPage();
  } catch (err) {
    $("password").value = "";
    showError(err.status === 401 ? "用户名或密码错误 · The user name or the password is wrong." : explain(err));
  } finally {
    $("login").disabled = false;
  }
});
