"""What a crawl keeps per listing stays small and exact (issue 16, decisions 123 and 124)."""

from __future__ import annotations

import subprocess
import sys

from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from pipeline_core.scrapy.preview import PreviewSession
from pipeline_core.scrapy.reporting import attach
from pipeline_core.stages.crawl import KnownListings
from pipeline_core.stages.seen import POSITION_BITS, SeenIds

DIGEST = "ab" * 32
RAW = "cd" * 32


def test_seen_ids_give_back_what_was_set() -> None:
    seen = SeenIds()
    page = "https://example.org/feed?page=2"
    seen.set("7", 12, page, False)
    seen.set("8", 13, page, True)
    seen.set("9", 14, "", True)
    assert "7" in seen and "10" not in seen and len(seen) == 3
    assert seen.get("7") == (12, page, False)
    assert seen.get("8") == (13, page, True)
    assert seen.get("9") == (14, "", True)
    assert seen.get("10") is None
    seen.mark_staged("7")
    seen.mark_staged("10")  # not seen: nothing happens
    assert seen.get("7") == (12, page, True)
    assert "10" not in seen
    seen.set("7", 40, "https://example.org/feed?page=5", False)  # a later record replaces it
    assert seen.get("7") == (40, "https://example.org/feed?page=5", False)


def test_seen_ids_keep_a_page_url_once() -> None:
    seen = SeenIds()
    for position in range(1, 101):
        seen.set(str(position), position, "https://example.org/feed?page=1", False)
    assert seen._urls == ["", "https://example.org/feed?page=1"]  # the empty URL, the page
    assert {type(value) for value in seen._packed.values()} == {int}


def test_seen_ids_stay_exact_beyond_the_packed_positions() -> None:
    seen = SeenIds()
    huge = 1 << POSITION_BITS
    seen.set("a", huge, "u", False)
    seen.mark_staged("a")
    assert seen.get("a") == (huge, "u", True)
    seen.set("a", 3, "u", False)  # back to a packed entry
    assert seen.get("a") == (3, "u", False) and len(seen) == 1


def test_active_among_names_only_staged_active_ids() -> None:
    known = KnownListings()
    known.put("1", DIGEST, RAW)
    known.put("2", DIGEST, None, active=False)
    known.put("3", DIGEST, RAW, duplicate=True)
    assert known.active_among({"1", "2", "3", "4"}) == {"1", "3"}
    assert known.active_among(set()) == set()
    assert known.active_among({"1", "2", "3"}) == known.active_ids()


def test_a_dropped_item_keeps_no_traceback() -> None:
    crawler = get_crawler()
    attach(crawler, PreviewSession())
    try:
        raise DropItem("not valid")
    except DropItem as exc:
        dropped = exc
    assert dropped.__traceback__ is not None
    crawler.signals.send_catch_log(
        signal=signals.item_dropped, item={}, response=None, spider=None, exception=dropped
    )
    assert dropped.__traceback__ is None


def test_the_crawl_settings_leave_out_the_remote_control_and_telnet_extensions() -> None:
    code = (
        "import sys\n"
        "from scrapy.settings import Settings\n"
        "s = Settings()\n"
        "s.setmodule('pipeline_core.scrapy.settings', priority='project')\n"
        "names = s.get_component_priority_dict_with_base('EXTENSIONS')\n"
        "assert 'scrapy.extensions.corestats.CoreStats' in names, names\n"
        "assert not any('remote_control' in n or 'telnet' in n for n in names), names\n"
        "assert 'aiohttp' not in sys.modules and 'twisted.conch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
