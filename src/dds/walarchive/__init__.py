"""Continuous WAL archiving and point-in-time recovery of replica sets on PostgreSQL storage."""
