"""The prescription review engine (consumers/pharmacy/review): every rule kind tripped and not tripped,
across members, the fail-safe paths, loading errors and the shipped data's coverage. Pure and fast."""
