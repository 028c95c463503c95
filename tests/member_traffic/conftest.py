"""The API fixtures (an app over a small shared record, a served app, a Debian chromium page)."""

from tests.api.conftest import community, page, served  # noqa: F401 - fixtures used by name
