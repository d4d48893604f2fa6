"""The `dds` command."""
