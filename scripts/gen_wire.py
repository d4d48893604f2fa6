"""Generate `src/dds/wire/models.py`: the DDS API v3 request and response bodies this service
serves, as pydantic models with the wire field names and types the Huawei Cloud Python SDK for
DDS (`huaweicloudsdkdds`, a test dependency) declares for them.

Run: .venv/bin/python scripts/gen_wire.py   (then `ruff check --fix` and `ruff format` on src/dds/wire/models.py)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import huaweicloudsdkdds.v3.model as sdk

# Operations served, by the SDK's operation name (the route functions carry the same names).
OPERATIONS = [
    "create_instance",
    "list_databases",
    "create_database_user",
    "delete_database_user",
    "list_database_users",
    "create_database_role",
    "delete_database_role",
    "list_database_roles",
    "check_password",
    "check_weak_password",
    "batch_tag_action",
    "list_instance_tags",
    "list_project_tags",
    "list_instances_by_tags",
    "show_quotas",
    "set_recycle_policy",
    "show_recycle_policy",
    "list_recycle_instances",
    "change_ops_window",
    "list_scheduled_tasks",
    "cancel_scheduled_task",
    "set_auto_enlarge_policies",
    "show_auto_enlarge_policy",
    "show_repl_set_name",
    "update_repl_set_name",
    "switchover_replica_set",
    "switch_instance_primary",
    "expand_replicaset_node",
    "shrink_instance_nodes",
    "add_readonly_node",
    "delete_readonly_node",
    "list_configurations",
    "create_configuration",
    "validate_configuration_name",
    "compare_configuration",
    "show_configuration_parameter",
    "update_configuration_parameter",
    "delete_configuration",
    "copy_configuration",
    "reset_configuration",
    "list_applied_instances",
    "show_configuration_applied_history",
    "show_configuration_modify_history",
    "switch_configuration",
    "show_entity_configuration",
    "update_entity_configuration",
    "show_instance_configuration_modify_history",
    "list_instances",
    "delete_instance",
    "restart_instance",
    "update_instance_name",
    "update_instance_port",
    "update_instance_remark",
    "reset_password",
    "resize_instance_volume",
    "resize_instance",
    "show_disk_usage",
    "show_job_detail",
    "list_tasks",
    "list_datastore_versions",
    "list_flavors",
    "list_flavor_infos",
    "list_storage_type",
    "create_manual_backup",
    "list_backups",
    "show_backup_download_link",
    "delete_manual_backup",
    "batch_delete_backup",
    "show_backup_policy",
    "set_backup_policy",
    "restore_instance",
    "list_api_version",
    "show_api_version",
    "restore_new_instance",
    "list_restore_times",
    "list_restore_databases",
    "list_restore_collections",
    "restore_instance_from_collection",
    "list_slow_logs",
    "download_slowlog",
    "list_error_logs",
    "download_errorlog",
    "show_auditlog_policy",
    "set_auditlog_policy",
    "list_auditlogs",
    "delete_audit_log",
    "list_auditlog_links",
    "show_connection_statistics",
    "list_sessions",
    "delete_session",
    "create_kill_op_rule",
    "show_kill_op_rule_rule_list",
    "update_kill_op_rule",
    "delete_kill_op_rule_list",
    "switch_ssl",
    "list_ssl_cert_download_address",
    "show_client_network",
    "update_client_network",
    "show_second_level_monitoring_status",
    "switch_second_level_monitoring",
    "show_slowlog_desensitization_switch",
    "switch_slowlog_desensitization",
    "list_lts_configs",
    "list_az2_migrate",
]
_SHADOWED = ("list", "dict")
_LEAVES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "object": "Any"}


def camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


class Generator:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}
        self.order: list[str] = []

    def type_of(self, declared: str) -> str:
        if m := re.fullmatch(r"list\[(.+)\]", declared):
            return f"list[{self.type_of(m.group(1))}]"
        if m := re.fullmatch(r"dict\(str, (.+)\)", declared):
            return f"dict[str, {self.type_of(m.group(1))}]"
        if declared in _LEAVES:
            return _LEAVES[declared]
        self.model(declared)
        return declared

    def model(self, name: str) -> None:
        if name in self.done:
            return
        self.done[name] = ""
        cls = getattr(sdk, name)
        lines = [f"class {name}(Wire):"]
        fields = []
        for attr, declared in cls.openapi_types.items():
            wire = cls.attribute_map[attr]
            if wire.lower().startswith("x-") or attr in ("x_request_id",):
                continue  # response headers, not body fields
            typ = self.type_of(declared)
            if attr in _SHADOWED:
                attr += "_"  # a field named `list` would hide the builtin in the class's annotations
            if wire.isidentifier() and wire == attr:
                fields.append(f"    {wire}: {typ} | None = None")
            else:
                fields.append(f"    {attr}: {typ} | None = Field(default=None, alias={wire!r})")
        lines += fields or ["    pass"]
        self.done[name] = "\n".join(lines)
        self.order.append(name)

    def operation(self, op: str) -> None:
        request = getattr(sdk, camel(op) + "Request")
        body = request.openapi_types.get("body")
        if body:
            self.type_of(body)
        self.model(camel(op) + "Response")


def main() -> None:
    gen = Generator()
    for op in OPERATIONS:
        gen.operation(op)
    out = [
        '"""DDS API v3 bodies as the Huawei Cloud SDK for DDS declares them (generated by scripts/gen_wire.py).',
        "",
        "Every field is optional on the wire; services check what an operation needs and answer with the",
        "DDS error code. Unknown fields are kept (`extra`), so newer clients are not refused.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from pydantic import Field",
        "",
        "from dds.wire.base import Wire",
        "",
    ]
    for name in gen.order:
        out += ["", gen.done[name], ""]
    out += [
        "",
        "for _model in list(globals().values()):",
        "    if isinstance(_model, type) and issubclass(_model, Wire):",
        "        _model.model_rebuild()",
        "",
    ]
    target = Path(__file__).resolve().parents[1] / "src" / "dds" / "wire" / "models.py"
    target.write_text("\n".join(out))
    print(f"{len(gen.order)} models -> {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
