"""The job queue: ``pipeline.queue`` rows claimed by workers, optionally announced on SQS."""

from pipeline_core.queue.enqueue import announce, enqueue

__all__ = ["announce", "enqueue"]
