"""openstacksdk + otcextensions, unchanged, against this service.

The cloud config only points `auth_url` at this service, in each of the three forms users copy
(the service root, `/v3` as the cloud's IAM URL ends, or the embedded identity `/identity/v3`);
keystoneauth does version discovery there, authenticates with a password, and otcextensions
finds DDS in the token's catalog under `ddsv3`, whose URL carries the project id as on the cloud.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import otcextensions.sdk
import pytest
import yaml
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from tests.conftest import PASSWORD, Service
from tests.helpers import connect
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-otc")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "otc")


@pytest.fixture(scope="module", params=["", "/v3", "/identity/v3"], ids=["root", "v3", "identity-v3"])
def conn(
    tenant: Tenant, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Connection]:
    clouds = {
        "clouds": {
            "dds-local": {
                "auth": {
                    "auth_url": f"{tenant.url}{request.param}",
                    "username": tenant.user,
                    "password": tenant.password,
                    "project_name": tenant.project_name,
                    "user_domain_name": "Default",
                },
                "region_name": "local-1",
                "interface": "public",
                "identity_api_version": 3,
            }
        }
    }
    path: Path = tmp_path_factory.mktemp("otc") / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    region = OpenStackConfig(config_files=[str(path)], vendor_files=[]).get_one(cloud="dds-local")
    connection = openstack.connection.Connection(config=region)
    otcextensions.sdk.register_otc_extensions(connection)
    yield connection
    connection.close()


def test_catalog_lookup_and_metadata(conn: Connection, tenant: Tenant) -> None:
    catalog = conn.session.auth.get_access(conn.session).service_catalog
    assert catalog.url_for(service_type="ddsv3", interface="public") == f"{tenant.url}/v3/{tenant.project_id}"
    endpoint = conn.dds.get_endpoint().replace("%(project_id)s", tenant.project_id)
    assert endpoint == f"{tenant.url}/v3/{tenant.project_id}"
    assert conn.current_project_id == tenant.project_id
    assert [t.name for t in conn.dds.datastore_types()] == ["DDS-Community"]
    versions = [d.version for d in conn.dds.datastores("DDS-Community")]
    assert "4.0" in versions
    flavors = list(conn.dds.flavors(region="local-1", engine_name="DDS-Community"))
    assert "dds.mongodb.s2.medium.4.repset" in {f.spec_code for f in flavors}
    assert all(f.type in {"mongos", "shard", "config", "replica", "single", "readonly"} for f in flavors)


def _create(conn: Connection, name: str) -> Any:
    return conn.dds.create_instance(
        name=name,
        datastore={"type": "DDS-Community", "version": "4.0", "storage_engine": "wiredTiger"},
        region="local-1",
        availability_zone="local-1a",
        vpc_id="674e9b42-cd8d-4d25-a2e6-5abcc565b961",
        subnet_id="f1df08c5-71d1-406a-aff0-de435a51007b",
        security_group_id="7aa51dbf-5b63-40db-9724-dad3c4828b58",
        password=PASSWORD,
        mode="ReplicaSet",
        flavor=[
            {
                "type": "replica",
                "num": 1,
                "storage": "ULTRAHIGH",
                "size": 10,
                "spec_code": "dds.mongodb.s2.medium.4.repset",
            }
        ],
    )


def test_instance_create_wait_list_delete(conn: Connection, tenant: Tenant) -> None:
    inst = _create(conn, "otc-replica")
    assert inst.id and inst.job_id and inst.status == "creating"
    try:
        job = conn.dds.wait_job(inst.job_id, interval=1, wait=120)
        assert job.status == "Completed" and job.instance.id == inst.id

        listed = {i.id: i for i in conn.dds.instances()}
        assert listed[inst.id].name == "otc-replica" and listed[inst.id].status == "normal"
        assert listed[inst.id].groups[0].nodes[0].role == "Primary"
        assert conn.dds.get_instance(inst.id).mode == "ReplicaSet"

        conn.dds.delete_instance(inst.id, ignore_missing=False)
        deadline = time.monotonic() + 90
        while inst.id in {i.id for i in conn.dds.instances()}:
            assert time.monotonic() < deadline, "instance still listed after delete"
            time.sleep(0.3)
    finally:
        delete_instance(tenant, inst.id)


def test_restart_rename_port_enlarge_resize(conn: Connection, tenant: Tenant, own: Service) -> None:
    """The instance actions of otcextensions' proxy, each followed by its job with `wait_job`."""
    inst = _create(conn, "otc-ops")
    try:
        assert conn.dds.wait_job(inst.job_id, interval=1, wait=120).status == "Completed"
        with connect(conn.dds.get_instance(inst.id).to_dict(), PASSWORD) as client:
            client.app.items.insert_many([{"n": i} for i in range(20)])

        def done(answer: Any) -> None:
            assert answer.job_id, answer
            assert conn.dds.wait_job(answer.job_id, interval=1, wait=120).status == "Completed"

        done(conn.dds.restart_instance(inst.id))  # target_type null: the proxy sends what it has
        conn.dds.change_instance_name(inst.id, "otc-ops-renamed")
        port = int(own.parts.settings.port_bounds[1]) - 1
        done(conn.dds.change_instance_port(inst.id, port))
        done(conn.dds.enlarge_instance(inst.id, 20))
        done(conn.dds.resize_instance(inst.id, target_id=inst.id, spec_code="dds.mongodb.s2.large.4.repset"))

        shown = conn.dds.get_instance(inst.id)
        assert shown.name == "otc-ops-renamed" and int(shown.port) == port
        node = shown.groups[0].nodes[0]
        assert node.spec_code == "dds.mongodb.s2.large.4.repset"
        assert int(shown.groups[0].volume["size"]) == 20
        with connect(shown.to_dict(), PASSWORD) as client:
            assert client.app.items.count_documents({}) == 20  # the data went through every action
    finally:
        delete_instance(tenant, inst.id)


def test_recycle_policy_and_bin(conn: Connection, tenant: Tenant) -> None:
    """The policy through `create_policy`/`get_policy`; a deleted instance then shows in
    `recycle_instances` with the backup taken at deletion."""
    conn.dds.create_policy(enabled=True, retention_period_in_days=3)
    try:
        policy = conn.dds.get_policy()
        assert policy.enabled is True and int(policy.retention_period_in_days) == 3
        inst = _create(conn, "otc-recycled")
        assert conn.dds.wait_job(inst.job_id, interval=1, wait=120).status == "Completed"
        conn.dds.delete_instance(inst.id, ignore_missing=False)
        deadline = time.monotonic() + 90
        while inst.id in {i.id for i in conn.dds.instances()}:
            assert time.monotonic() < deadline, "instance still listed after delete"
            time.sleep(0.3)
        (page,) = list(conn.dds.recycle_instances())
        binned = {r.id: r for r in page.instances}
        assert binned[inst.id].name == "otc-recycled" and binned[inst.id].backup_id
        assert binned[inst.id].retained_until > binned[inst.id].deleted_at
        assert page.total_count == len(page.instances)
    finally:
        conn.dds.create_policy(enabled=False)
    assert conn.dds.get_policy().enabled is False
