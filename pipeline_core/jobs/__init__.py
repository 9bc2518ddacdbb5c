"""Handlers of the built-in job types: ``scrape`` → ``transform`` → ``ingest``.

Each handler is ``handler(payload, context)`` (see :mod:`pipeline_core.jobtypes`) and names
its successor in the :class:`~pipeline_core.jobtypes.JobResult` it returns; the queue looks
types up by name through the plugin manager, so plugins add types (images, promotion) and
chain them the same way. The plugin that registers these is
``pipeline_core.builtin.pipeline_jobs``.
"""
