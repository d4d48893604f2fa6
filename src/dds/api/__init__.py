"""HTTP API: one router per DDS API group, wire names from the DDS reference."""
