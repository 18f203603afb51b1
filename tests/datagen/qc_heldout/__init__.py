"""Held-out faults for measuring QC: written before (and independently of) QC's cross-checks,
never used to tune them. See ``faults.py``."""
