"""The instance gateway: a MongoDB wire-protocol layer in front of one engine process.

It runs as its own process per node (`python -m dds.gateway --config gateway.json`) and
supplies what the engine lacks: advertised addresses in `hello`, a replica set status,
protection of the service's own user, slow/error/audit logs and connection statistics.
It imports only the standard library and `bson`, so it can be started without the service.
"""
