"""DDS operations this service does not offer, and why (the reads with one true answer are served).

They are documented by the DDS API reference, so a script written for the cloud may call them;
each gets a DDS error that says why it cannot work here (a property of a single-host service on
one engine, not a temporary gap), rather than "URL not found".
"""

from __future__ import annotations

from dataclasses import dataclass

SHARDING = "Cluster (sharding) instances are not offered: the bundled engine (FerretDB) has no sharding."
ONE_NODE = "An instance runs one engine node: there is no secondary to switch to, add or remove."
NETWORK = "Instances listen on this host's own addresses: there are no VPC, EIP or public-gateway resources."
ONE_ZONE = "There is one availability zone (local-1a): there is nowhere to migrate to."
UPGRADE = "Every datastore version runs the same engine build: there is no newer minor version to upgrade to."
LTS = "There is no Log Tank Service: use the error-logs, slowlog and *-download routes."
# Switches whose only possible position is shown by their GET (dds.services.fixed_features).
CLOUD_EYE = "There is no Cloud Eye second-level monitoring: the service's metrics are at /metrics."
DESENSITIZE = "Slow-log desensitization cannot be switched off: slow-log entries never carry literal values."


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    reason: str


_P = "/v3/{project_id}"
_I = _P + "/instances/{instance_id}"
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", _I + "/balancer", "show_sharding_balancer", SHARDING),
    Operation("PUT", _I + "/balancer/active-window", "set_balancer_window", SHARDING),
    Operation("PUT", _I + "/balancer/{action}", "set_balancer_switch", SHARDING),
    Operation("POST", _I + "/enlarge", "add_sharding_node", SHARDING),
    Operation("POST", _I + "/shards/batch-delete", "batch_delete_shards", SHARDING),
    Operation("DELETE", _I + "/mongos-node", "delete_mongos_node", SHARDING),
    Operation("POST", _I + "/create-ip", "create_ip", NETWORK),
    Operation("DELETE", _I + "/ip", "delete_ip", NETWORK),
    Operation("POST", _I + "/modify-internal-ip", "attach_internal_ip", NETWORK),
    Operation("POST", _I + "/modify-security-group", "update_security_group", NETWORK),
    Operation("POST", _I + "/nodes/{node_id}/public-gateway", "bind_public_gateway", NETWORK),
    Operation("DELETE", _I + "/nodes/{node_id}/public-gateway", "unbind_public_gateway", NETWORK),
    Operation("POST", _P + "/nodes/{node_id}/bind-eip", "attach_eip", NETWORK),
    Operation("POST", _P + "/nodes/{node_id}/unbind-eip", "cancel_eip", NETWORK),
    Operation("POST", _I + "/migrate", "migrate_az", ONE_ZONE),
    Operation("GET", _I + "/db-upgrade-duration", "show_upgrade_duration", UPGRADE),
    Operation("POST", _I + "/db-upgrade", "upgrade_database_version", UPGRADE),
    Operation("POST", _P + "/instances/db-upgrade", "batch_upgrade_database_version", UPGRADE),
    Operation("POST", _P + "/instances/logs/lts-configs", "update_lts_config", LTS),
    Operation("DELETE", _P + "/instances/logs/lts-configs", "delete_lts_config", LTS),
    Operation("POST", "/v3.1/{project_id}/instances/{instance_id}/error-logs", "list_lts_error_logs", LTS),
    Operation("POST", "/v3.1/{project_id}/instances/{instance_id}/slow-logs", "list_lts_slow_logs", LTS),
)
