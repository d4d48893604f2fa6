"""One router per DDS API group."""
