"""Service layer: validates requests, writes metadata and jobs, runs engine steps."""
