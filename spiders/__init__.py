"""In-repo Scrapy spiders (``SPIDER_MODULES``), for sources that need code."""
