"""A small consumer that lives in the test folder: tables, a migration, a route and a page, registered
with one line (test_registration.py). Nothing outside this folder knows it."""
