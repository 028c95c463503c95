"""The ECG tests reuse the API tests' small community (an app over a real database) and browser."""

from tests.api.conftest import community, page, served  # noqa: F401 - fixtures
