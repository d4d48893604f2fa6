"""An instance's processes and files: layout, secrets hand-off, start/stop/ready, temporary engines."""
