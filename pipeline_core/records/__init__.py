"""Records out of a feed's bytes: CSV (encoding and delimiter found) and XML (no entities,
no network). The CSV and XML fetchers and the upload job read with these, and the drafter
samples with them; nothing here knows Scrapy, the queue or a source."""
