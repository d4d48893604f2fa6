"""Durable jobs: rows in the metadata store, run by worker threads in steps."""
