"""Request and response bodies of the DDS API v3, by their wire names (shared by api and services)."""
