"""The ids a crawl has seen, kept small: one integer per id.

A stage session remembers, for every external id of a crawl, where its first record was
(its position and URL, to name it when a later record repeats the id) and whether that
record is staged (or about to be). A crawl of 100,000 listings keeps 100,000 of these, so
each is packed into one integer instead of a tuple (issue 16: about 6 MB less at 100,000
listings): the staged flag in bit 0, the position in the next :data:`POSITION_BITS` bits
and, above them, the URL's index in a list of the distinct URLs (a feed's records share
their page's URL; index 0 is the empty URL).
"""

from __future__ import annotations

#: Bits of a packed entry that hold the position (positions beyond 2**40 are kept in a
#: dictionary of their own).
POSITION_BITS = 40
_POSITION_MASK = (1 << POSITION_BITS) - 1

Seen = tuple[int, str, bool]


class SeenIds:
    """External id → (position of its first record, that record's URL, staged or not)."""

    def __init__(self) -> None:
        self._packed: dict[str, int] = {}
        self._urls: list[str] = [""]
        self._url_index: dict[str, int] = {"": 0}
        #: Entries whose position does not fit the packed form (never in practice).
        self._large: dict[str, Seen] = {}

    def __len__(self) -> int:
        return len(self._packed) + len(self._large)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._packed or external_id in self._large

    def get(self, external_id: str) -> Seen | None:
        """The entry of ``external_id``, or None when it was not seen."""
        packed = self._packed.get(external_id)
        if packed is None:
            return self._large.get(external_id)
        return (
            (packed >> 1) & _POSITION_MASK,
            self._urls[packed >> (POSITION_BITS + 1)],
            bool(packed & 1),
        )

    def set(self, external_id: str, position: int, url: str, staged: bool) -> None:
        """Remember (or replace) the entry of ``external_id``."""
        if not 0 <= position <= _POSITION_MASK:
            self._packed.pop(external_id, None)
            self._large[external_id] = (position, url, staged)
            return
        self._large.pop(external_id, None)
        index = self._url_index.get(url)
        if index is None:
            index = self._url_index[url] = len(self._urls)
            self._urls.append(url)
        self._packed[external_id] = (index << (POSITION_BITS + 1)) | (position << 1) | staged

    def mark_staged(self, external_id: str) -> None:
        """Note that the first record of ``external_id`` is staged (or about to be)."""
        packed = self._packed.get(external_id)
        if packed is not None:
            if not packed & 1:
                self._packed[external_id] = packed | 1
        elif external_id in self._large:
            position, url, _ = self._large[external_id]
            self._large[external_id] = (position, url, True)
