"""The record store's HTTP routes: FHIR reads and searches, the patient index, result recognition."""
