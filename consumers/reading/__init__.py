"""Remote reading centres (远程心电/影像/病理中心): worklists, claims, clocks and reports."""
