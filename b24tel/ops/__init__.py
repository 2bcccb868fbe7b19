"""What operators need from a server: liveness, readiness and metrics (docs/operations.md)."""
