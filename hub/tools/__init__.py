"""Tools beside the hub: the simulated county (demo) and the benchmarks. No production module imports them."""
