"""Self-hosted Document Database Service, wire-compatible with the DDS API v3."""

__version__ = "0.1.0"
