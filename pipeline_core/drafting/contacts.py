"""How to reach the listings: phones read in the region, e-mails, web pages, images."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from pipeline_core.drafting.columns import Column, looks_like_url
from pipeline_core.drafting.lexicon import fold, key_of, names
from pipeline_core.drafting.plan import Base, pct
from pipeline_core.drafting.values import (
    is_email,
    is_image_url,
    is_phone,
    share,
)


class ContactRules(Base):
    """Phone, e-mail, website, the DMO's page and images."""

    def contact_phone(self) -> None:
        """Phone columns: named like one and read as valid numbers by the ``phone`` transform
        in the region (or, with no column so named, columns of digits that read so)."""
        regions = [self.country] if self.country else []
        if self._country_candidates:
            regions = list(self._country_candidates)
        tried: list[str | None] = list(regions) or [None]
        named = [
            c
            for c in self.preferred(self.named("phone", exact_first=False))
            if "fax" not in fold(key_of(c.path))
        ]
        if not named:
            named = [
                c
                for c in self.scalar_columns()
                if "fax" not in fold(key_of(c.path))
                and share(c.texts(), lambda t: not any(ch.isalpha() for ch in t)) >= 0.9
                and share(c.texts(), lambda t: sum(ch.isdigit() for ch in t) >= 6) >= 0.9
            ]
            threshold = 0.9
        else:
            threshold = 0.5
        best: list[tuple[float, Column, str | None]] = []
        for column in named:
            texts = column.texts()
            if not texts:
                continue
            for region in tried:
                ok = share(texts, partial(_reads_as_phone, region=region))
                if ok >= threshold:
                    best.append((ok, column, region))
        if not best:
            if named and threshold < 0.9:
                reads = partial(_reads_as_phone, region=tried[0])
                shares = ", ".join(f"{pct(share(c.texts(), reads))} of {c.path}" for c in named[:3])
                where = f" in {tried[0]}" if tried[0] else ""
                self.plan.undecided.append(
                    f"contact.phone: named so, but only {shares} read as phone numbers{where}"
                )
            return
        by_region: dict[str | None, float] = {}
        for ok, column, place in best:
            by_region[place] = by_region.get(place, 0.0) + len(column.present) * ok
        region = max(by_region, key=lambda r: (by_region[r], r or ""))
        found = {c.path: (ok, c) for ok, c, r in best if r == region}
        # several phone columns of one object (phone1, phone2): the first filled one
        top = max(
            found.values(),
            key=lambda oc: (_contact_like(oc[1].path), len(oc[1].present), -oc[1].order),
        )[1]
        group = top.path.rsplit(".", 1)[0] if "." in top.path else ""
        chosen = sorted(
            (
                c
                for _, c in found.values()
                if (c.path.rsplit(".", 1)[0] if "." in c.path else "") == group
            ),
            key=lambda c: c.order,
        )
        if region and self._country_candidates:
            self.country = region
        paths = [c.path for c in chosen]
        spec: dict[str, Any] = {
            "from": paths[0] if len(paths) == 1 else paths,
            "transform": {"phone": {"invalid": "keep"}},
        }
        shown = ", ".join(f"{pct(found[p][0])} of {p}" for p in paths)
        where = f" in {region}" if region else ""
        self.plan.add("contact.phone", spec, f"{shown} read as phone numbers{where}", paths)
        self.use(*paths)

    def contact_email(self) -> None:
        """The column whose values the ``email`` transform accepts."""
        for column in self.preferred(self.scalar_columns()):
            texts = column.texts()
            ok = share(texts, is_email)
            if texts and ok >= (0.6 if names(column.path, "email") else 0.9):
                self.plan.add(
                    "contact.email",
                    {"from": column.path, "transform": {"email": {"invalid": "drop"}}},
                    f"{pct(ok)} of the values are e-mail addresses",
                    [column.path],
                )
                self.use(column.path)
                return

    def links_and_images(self) -> None:
        """Web addresses: images by their extension, the listing's page at the DMO when the
        links share one host, a website otherwise; lists of image objects as ``images``."""
        images = self._image_list()
        if images is not None:
            self.plan.add(*images)
        for column in self.preferred(self.scalar_columns()):
            texts = column.texts()
            if not texts or share(texts, looks_like_url) < 0.8:
                continue
            if share(texts, is_image_url) >= 0.8 and not self.plan.has("images"):
                self.plan.add(
                    "images",
                    {"each": column.path, "fields": {"url": {"from": "$", "transform": "url"}}},
                    f"{pct(share(texts, is_image_url))} of the values are image URLs",
                    [column.path],
                )
                self.use(column.path)
                continue
            if _api_link(column.path, texts[0]):
                continue  # a link to the record in an API, not a page
            hosts = Counter(
                (urlsplit(t if "://" in t else "https://" + t).hostname or "") for t in texts
            )
            host, count = hosts.most_common(1)[0]
            if len(texts) >= 5 and count >= 0.9 * len(texts) and not self.plan.has("url"):
                self.plan.add(
                    "url",
                    {"from": column.path, "transform": "clean_url"},
                    f"{pct(count / len(texts))} of the links go to {host}: "
                    "the listing's page at the DMO",
                    [column.path],
                )
                self.use(column.path)
            elif not self.plan.has("contact.website") and count < 0.9 * len(texts):
                self.plan.add(
                    "contact.website",
                    {"from": column.path, "transform": {"clean_url": {"invalid": "drop"}}},
                    f"{pct(share(texts, looks_like_url))} of the values are web addresses "
                    f"on {len(hosts)} hosts",
                    [column.path],
                )
                self.use(column.path)
        if not self.plan.has("contact.website"):
            self._website_list()

    def _website_list(self) -> None:
        """A list of web addresses (``urls: [site, facebook page]``): its first is the
        website."""
        for column in self.columns.ordered():
            if column.path in self.used or column.is_list_of_objects:
                continue
            lists = [v for v in column.present if isinstance(v, list)]
            firsts = [str(v[0]).strip() for v in lists if v and isinstance(v[0], str)]
            if (
                not firsts
                or len(lists) < len(column.present)
                or share(firsts, looks_like_url) < 0.9
                or share(firsts, is_image_url) >= 0.5
                or _api_link(column.path, firsts[0])
            ):
                continue
            self.plan.add(
                "contact.website",
                {"from": f"{column.path}.0", "transform": {"clean_url": {"invalid": "drop"}}},
                f"{column.path} holds lists of web addresses "
                f"({pct(len(firsts) / self.columns.count)} of the records): the first",
                [column.path],
            )
            self.use(column.path)
            return

    def _image_list(self) -> tuple[str, Any, str, list[str]] | None:
        for column in self.columns.ordered():
            if not column.is_list_of_objects or column.path in self.used:
                continue
            prefix = column.path + ".0."
            subs = self.columns.item_fields(column)
            url_key = None
            for sub in subs:
                texts = sub.texts()
                if (
                    texts
                    and share(texts, looks_like_url) >= 0.9
                    and (
                        share(texts, is_image_url) >= 0.5
                        or names(column.path, "image")
                        or names(sub.path, "image")
                    )
                ):
                    url_key = sub.path[len(prefix) :]
                    break
            if url_key is None:
                continue
            fields: dict[str, Any] = {"url": {"from": url_key, "transform": "url"}}
            for sub in subs:
                key = sub.path[len(prefix) :]
                folded = fold(key)
                if sub.texts() and any(
                    w in folded for w in ("copyright", "credit", "author", "autor")
                ):
                    fields.setdefault("credit", {"from": key, "transform": "text"})
                elif sub.texts() and any(w in folded for w in ("licen",)):
                    fields.setdefault("licence", {"from": key, "transform": "text"})
            why = f"{column.path} is a list of objects whose {url_key} holds image URLs"
            self.use(column.path)
            return ("images", {"each": column.path, "fields": fields}, why, [column.path])
        return None


def _reads_as_phone(text: str, region: str | None) -> bool:
    return is_phone(text, region)


def _contact_like(path: str) -> bool:
    """True for paths under a contact object (``ContactInfos.de.Phonenumber``)."""
    folded = fold(path)
    return any(w in folded for w in ("contact", "kontakt", "contacto", "contatt"))


def _api_link(path: str, example: str) -> bool:
    """True for a record's own link in an API (``Self``, ``@id``, a host ``api.…``)."""
    if fold(key_of(path)) in ("self", "@id", "id", "href") and "link" not in fold(path):
        return True
    if any(w in fold(path) for w in ("licen", "copyright", "holder")):
        return True
    host = (urlsplit(example if "://" in example else "https://" + example).hostname or "").lower()
    return "api" in host.split(".") or "/api/" in example.lower()
