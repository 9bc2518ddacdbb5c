"""What an operator asks of the running pipeline, as service functions: the CLI prints them
and the API serves them, so there is one copy of each query (jobs with their totals and
details, retries of many jobs, the error and crawl tables).

Sits beside :mod:`pipeline_core.queue` (it reads the same tables); nothing below imports it.
"""
