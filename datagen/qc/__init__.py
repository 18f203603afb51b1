"""Quality control of generated shards: rule checks, a learned anomaly model, fault injection
to measure them, and the report (list, JSON, drop)."""
