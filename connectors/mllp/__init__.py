"""HL7 v2 over MLLP: the listener, character sets, acknowledgements and the mapping to FHIR."""
