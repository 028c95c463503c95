// Probe page: the probe's notes, read with the page session or a pasted token.
"use strict";
const { $, cell, fill, getJson, haveToken, hideError, showFailure, useTokenForm } = Hub;

async function load() {
  if (!haveToken("paste a reader token.")) return;
  try {
    const answer = await getJson("/api/probe/notes");
    fill("probe-notes", answer.notes, (tr, note) => { cell(tr, note.event_id); cell(tr, note.event_type); }, "none");
    hideError();
    $("content").hidden = false;
  } catch (err) {
    showFailure(err);
  }
}

useTokenForm(load);
load();
