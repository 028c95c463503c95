"""The pharmacy's fixtures: the API's small shared record (the same person at th01 and cty01), a served
app and a chromium page; and, while consumers/pharmacy/review is not in this branch yet, its test double."""

import importlib.util
import sys

from tests.pharmacy import review_double

if importlib.util.find_spec("consumers.pharmacy.review") is None:  # the real engine replaces it at integration
    sys.modules["consumers.pharmacy.review"] = review_double

from tests.api.conftest import community, page, served  # noqa: E402,F401 - fixtures used by name
