"""Embedded identity: users, projects, tokens and AK/SK credentials."""
