"""The pages: one base template that every page extends, the application's own pages (status, login),
and the serving of every part's pages (see site.py)."""
