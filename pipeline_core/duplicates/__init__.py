"""Likely duplicates across sources: normalised names, fuzzy matching (rapidfuzz),
distance and contact evidence, blocked by a geographic grid. See
``docs/reference/duplicates.md``."""
