"""Data quality: a 0-100 score per listing from documented, weighted rules (``rules``),
stored with its breakdown (``store``), and the minimum that keeps listings out of promotion
(``gate``). See ``docs/reference/quality.md``."""
