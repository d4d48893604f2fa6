"""Engine adapters: how to run and talk to one kind of database process."""
