"""The pharmacy's fixtures: the API's small shared record (the same person at th01 and cty01), a served
app and a chromium page."""

from tests.api.conftest import community, page, served  # noqa: F401 - fixtures used by name
