"""Request bodies of the instance API group."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class CreateInstanceBody(Wire):
    name: str | None = None
    datastore: dict[str, Any] | None = None
    region: str | None = None
    availability_zone: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    security_group_id: str | None = None
    password: str | None = None
    port: str | int | None = None
    disk_encryption_id: str | None = None
    mode: str | None = None
    flavor: list[dict[str, Any]] | None = None
    backup_strategy: dict[str, Any] | None = None
    enterprise_project_id: str | None = None
    ssl_option: str | int | None = None
    tags: list[dict[str, Any]] | None = None
    configurations: list[dict[str, Any]] | None = None
    charge_info: dict[str, Any] | None = None
    restore_point: dict[str, Any] | None = None


class RestartBody(Wire):
    target_type: str | None = None
    target_id: str | None = None
    is_serial: bool | None = None
    is_force: bool | None = None


class ModifyNameBody(Wire):
    new_instance_name: str | None = None


class ModifyPortBody(Wire):
    port: int | str | None = None


class RemarkBody(Wire):
    remark: str | None = None


class ResetPasswordBody(Wire):
    user_name: str | None = None
    user_pwd: str | None = None
    db_name: str | None = None


class VolumeOption(Wire):
    group_id: str | None = None
    node_ids: list[str] | None = None
    size: int | str | None = None


class EnlargeVolumeBody(Wire):
    volume: VolumeOption
    is_auto_pay: bool | None = None


class ResizeOption(Wire):
    target_type: str | None = None
    target_id: str | None = None
    target_ids: list[str] | None = None
    target_spec_code: str | None = None


class ResizeBody(Wire):
    resize: ResizeOption
    is_auto_pay: bool | None = None
    is_force_resize: bool | None = None
