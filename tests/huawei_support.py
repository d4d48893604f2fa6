"""The Huawei SDK as the acceptance tests drive it: a client for a tenant, and waiting for jobs."""

from __future__ import annotations

import time
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdds.v3 import DdsClient, ShowJobDetailRequest

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
