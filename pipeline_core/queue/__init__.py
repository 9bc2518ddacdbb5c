"""The job queue: ``pipeline.queue`` rows claimed by workers, optionally announced on SQS."""

from pipeline_core.queue.enqueue import enqueue

__all__ = ["enqueue"]
