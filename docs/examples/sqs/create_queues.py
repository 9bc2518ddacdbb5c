"""Create the jobs queue of dmo-pipeline and its dead letter queue, with a redrive policy.

    python docs/examples/sqs/create_queues.py dmo-jobs

prints the two queue URLs; set ``PIPELINE_JOBS_QUEUE_URL`` to the first. Credentials and
region come from boto3's usual chain (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, an instance
role); the caller needs ``sqs:CreateQueue``, ``sqs:GetQueueAttributes`` and
``sqs:SetQueueAttributes``. The tests run this file against moto's server.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3


def create_job_queues(
    client: Any,
    name: str,
    *,
    max_receive_count: int = 10,
    visibility_timeout: int = 300,
) -> tuple[str, str]:
    """Create ``NAME-dlq`` and ``NAME`` (whose redrive policy moves a message to the dead
    letter queue once it was received ``max_receive_count`` times without being deleted);
    return (queue URL, dead letter queue URL). Creating an existing queue with the same
    attributes is a no-op."""
    dlq_url = client.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},  # SQS's longest
    )["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = client.create_queue(
        QueueName=name,
        Attributes={
            # A message stays hidden this long while its job runs (a longer job's message
            # comes back and is dropped as a duplicate: harmless).
            "VisibilityTimeout": str(visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


if __name__ == "__main__":
    queue_url, dlq_url = create_job_queues(boto3.client("sqs"), sys.argv[1])
    print(f"PIPELINE_JOBS_QUEUE_URL={queue_url}")
    print(f"dead letter queue: {dlq_url}")
