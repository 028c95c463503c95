"""What the record store's routes need on the app, loaded once when the app is made, so a bad rules
file stops the hub at start with one clear line instead of failing a request later."""

from __future__ import annotations

from fastapi import FastAPI

from consumers.record_store import recognition
from consumers.record_store.matching.rules import load_rules


def install(app: FastAPI) -> None:
    app.state.match_rules = load_rules(app.state.settings.match_rules)
    app.state.recognition_rules = recognition.load_rules(app.state.settings.recognition_rules)
