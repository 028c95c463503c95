"""The HTTP face of the hub: FHIR R4 read API, operator API, health, metrics and pages."""

from hub.app.api.app import create_app

__all__ = ["create_app"]
