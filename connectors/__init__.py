"""Connectors: read a member system, publish FHIR events through an outbox. One folder per kind.

A new connector is one module with a `Connector` subclass and one line in `registry.py`.
"""
