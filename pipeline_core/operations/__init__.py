"""Service functions behind both the command line and the HTTP API (one copy of the logic):
what an operator asks of the running pipeline (jobs with their totals and details, retries
of many jobs, the error and crawl tables), queueing and processing, keys, stored configs and
uploads.

They sit below ``cli`` and ``api`` and above ``queue``/``jobs``: each takes an engine (or a
connection) and settings, checks its input, and raises :class:`~pipeline_core.exceptions.
PipelineError` subclasses whose messages name the thing at fault.
"""
