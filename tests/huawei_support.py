"""The Huawei SDK as the acceptance tests drive it: a client for a tenant, and waiting for jobs."""

from __future__ import annotations

import time
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdds.v3 import (
    CreateInstanceFlavorOption,
    CreateInstanceRequest,
    CreateInstanceRequestBody,
    Datastore,
    DdsClient,
    ShowJobDetailRequest,
)

from tests.client_support import assert_model_types
from tests.iam_helpers import Tenant


def sdk_client(tenant: Tenant) -> DdsClient:
    """`BasicCredentials(ak, sk, project_id)` and the service as the endpoint: nothing else differs."""
    creds = BasicCredentials(tenant.access_key, tenant.secret_key, tenant.project_id)
    return DdsClient.new_builder().with_credentials(creds).with_endpoint(tenant.url).build()


def wait(client: DdsClient, job_id: str, timeout: float = 120) -> Any:
    """Poll `show_job_detail` (each answer parsed by the SDK's models) until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.show_job_detail(ShowJobDetailRequest(id=job_id)).job
        assert_model_types(job, "job")
        if job.status != "Running" or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def create_replica_set(client: DdsClient, name: str, password: str) -> str:
    """A ReplicaSet instance made through the SDK as its users do (`num` 3, network ids); its id once normal."""
    body = CreateInstanceRequestBody(
        name=name,
        datastore=Datastore(type="DDS-Community", version="4.0", storage_engine="wiredTiger"),
        region="local-1",
        availability_zone="local-1a",
        password=password,
        mode="ReplicaSet",
        flavor=[
            CreateInstanceFlavorOption(
                type="replica", num="3", storage="ULTRAHIGH", size="10", spec_code="dds.mongodb.s2.medium.4.repset"
            )
        ],
        vpc_id="v",
        subnet_id="s",
        security_group_id="g",
    )
    resp = client.create_instance(CreateInstanceRequest(body=body))
    assert wait(client, resp.job_id).status == "Completed"
    return str(resp.id)
