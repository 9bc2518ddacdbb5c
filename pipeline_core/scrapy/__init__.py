"""The Scrapy driver: settings, spider loader, fetcher base, item pipelines, middlewares."""
