"""dmo-pipeline-example: an example third-party plugin of dmo-pipeline.

It adds one source, ``example-lakeside`` (a mapping and its sample feed shipped as package
data), and one transform, ``stars``. The hook implementations are in
:mod:`dmo_pipeline_example.plugin`, the module named by the ``dmo_pipeline`` entry point.
"""

from __future__ import annotations

__version__ = "0.1.0"
