"""The master patient index: features of a patient record, blocking, scoring and the decision.

Everything here but `index.py` and `lookup.py` is pure, so the matcher can be tested and evaluated without a database.
"""
