"""Outbound delivery: readers' reports and critical-value notices carried back to the member they belong to."""
