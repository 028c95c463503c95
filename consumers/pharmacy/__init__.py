"""The central pharmacy (中心药房): county-wide medication list, prescription review, mapping queue, decisions."""
