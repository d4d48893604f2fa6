"""Request bodies with the DDS wire names. Unknown fields are kept, not rejected:
a request the real cloud accepts must be accepted unchanged."""
