"""County medical community integration hub: the event backbone between member systems."""

__version__ = "0.1.0"
