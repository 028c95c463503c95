"""FHIR REST ingest: members whose systems speak FHIR post resources and Bundles to the hub."""
