"""The durable job queue: enqueue (inside the caller's transaction), claim, worker, registry."""
