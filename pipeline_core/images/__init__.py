"""Listing images: fetch once, check, optimise, make variants, store (issue 12).

- :mod:`~pipeline_core.images.fetch`: downloads through the URL policy, with a size limit,
  a timeout and conditional requests (ETag, Last-Modified);
- :mod:`~pipeline_core.images.sniff`: the image type read from the bytes;
- :mod:`~pipeline_core.images.convert`: checks, EXIF orientation, metadata stripped but the
  colour profile, the optimised original and the variants (run in a process pool);
- :mod:`~pipeline_core.images.rows`: ``pipeline.images`` and ``staging.listing_images``;
- :mod:`~pipeline_core.images.run`: one image run over a source's listings, downloads
  concurrent and conversions in the pool, memory bounded by the concurrency.
- :mod:`~pipeline_core.images.cleanup`: deleting stored outputs and URL rows nothing uses
  any more (``dmo-pipeline images --delete-unused``).

The ``image`` job type (:mod:`pipeline_core.jobs.images`) and ``dmo-pipeline images`` drive
it. This package imports nothing heavy at import time: the pool's processes import only
:mod:`~pipeline_core.images.convert`, Pillow and the standard library.
"""
