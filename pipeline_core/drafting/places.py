"""Where the listings are: coordinates (named, paired, swapped), the country, the address."""

from __future__ import annotations

from typing import Any

from pipeline_core.drafting.columns import Column, looks_like_url
from pipeline_core.drafting.lexicon import id_like, names, names_exactly
from pipeline_core.drafting.plan import Base, pct
from pipeline_core.drafting.values import (
    countries_around,
    is_postal_code,
    number,
    share,
)

#: Values of yes/no columns (``addresses_main_address: True``): never a street.
_FLAGS = frozenset("true false yes no 1 0 si sí oui non ja nein".split())


class PlaceRules(Base):
    """Coordinates, country and address fields."""

    def coordinates(self) -> None:
        """Latitude and longitude: named columns holding degrees, or a column of pairs; the
        country is the smallest box that holds the points (swapped pairs caught)."""
        plan = self.plan
        numeric = [
            c
            for c in self.scalar_columns()
            if c.fill > 0 and share(c.present, lambda v: number(v) is not None) >= 0.95
        ]

        def in_range(c: Column, limit: float) -> bool:
            nums = [number(v) for v in c.present]
            return all(n is not None and -limit <= n <= limit for n in nums) and any(
                n is not None and not float(n).is_integer() for n in nums
            )

        lats = [c for c in numeric if names(c.path, "latitude") and in_range(c, 90)]
        lons = [c for c in numeric if names(c.path, "longitude") and in_range(c, 180)]
        lats.sort(key=lambda c: (not names_exactly(c.path, "latitude"), c.order))
        lons.sort(key=lambda c: (not names_exactly(c.path, "longitude"), c.order))
        points: list[tuple[float, float]] = []
        spec: dict[str, Any] | None = None
        why = ""
        used: list[str] = []
        if lats and lons:
            parent = lambda c: c.path.rsplit(".", 1)[0] if "." in c.path else ""  # noqa: E731
            pairs = [(a, b) for a in lats for b in lons if parent(a) == parent(b)]
            lat, lon = pairs[0] if pairs else (lats[0], lons[0])
            for a, b in zip(lat.values, lon.values, strict=False):
                x, y = number(a), number(b)
                if x is not None and y is not None:
                    points.append((x, y))
            spec = {"from": {"latitude": lat.path, "longitude": lon.path}}
            why = f"{lat.path} and {lon.path} are named so and hold degrees"
            used = [lat.path, lon.path]
            if len(lats) > 1 or len(lons) > 1:
                others = [c.path for c in lats + lons if c.path not in (lat.path, lon.path)]
                plan.undecided.append(f"coordinates: also named so: {', '.join(others)}")
        else:
            pair = self._pair_column()
            if pair is not None:
                column, order, points = pair
                spec = {"from": column.path}
                first = "longitude" if order == "lonlat" else "latitude"
                why = f"{column.path} holds coordinate pairs ({first} first)"
                used = [column.path]
                if order == "lonlat":
                    spec["_order"] = "lonlat"
        if spec is None:
            plan.undecided.append("coordinates: no latitude/longitude found")
            return
        countries = countries_around(points)
        swapped = countries_around([(b, a) for a, b in points])
        order = spec.pop("_order", None)
        args: dict[str, Any] = {}
        if order:
            args["order"] = order
        if countries:
            self.country = countries[0]
            args["country"] = countries[0]
            inside = pct(self._inside_share(points, countries[0]))
            why += f"; {inside} of the points lie in {countries[0]}"
            if len(countries) > 1:
                self._country_candidates = countries
        elif swapped:
            args["country"] = swapped[0]
            args["swapped"] = "fix"
            self.country = swapped[0]
            why += f"; the pairs look swapped: they lie in {swapped[0]} read the other way round"
        args["invalid"] = "drop"
        spec["transform"] = {"coordinates": args}
        plan.add("location", spec, why, used)
        self.use(*used)

    @staticmethod
    @staticmethod
    def _inside_share(points: list[tuple[float, float]], code: str) -> float:
        from pipeline_core.builtin.geo import COUNTRY_BOXES

        south, west, north, east = COUNTRY_BOXES[code]
        inside = sum(1 for a, b in points if south <= a <= north and west <= b <= east)
        return inside / len(points) if points else 0.0

    def _pair_column(self) -> tuple[Column, str, list[tuple[float, float]]] | None:
        for column in self.columns.ordered():
            if column.path in self.used:
                continue
            pairs = []
            for value in column.present:
                if isinstance(value, list) and len(value) == 2:
                    a, b = number(value[0]), number(value[1])
                elif isinstance(value, str) and len(value.replace(",", " ").split()) == 2:
                    parts = value.replace(",", " ").split()
                    a, b = number(parts[0]), number(parts[1])
                else:
                    a = b = None
                if a is not None and b is not None:
                    pairs.append((a, b))
            if not pairs or len(pairs) < 0.8 * len(column.present) or not column.present:
                continue
            if not (names(column.path, "point") or names(column.path, "latitude")):
                continue
            latlon = countries_around(pairs)
            lonlat = countries_around([(b, a) for a, b in pairs])
            is_list = isinstance(column.present[0], list)
            if lonlat and (not latlon or is_list):
                return column, "lonlat", [(b, a) for a, b in pairs]
            if latlon:
                return column, "latlon", pairs
        return None

    def country_from_phones(self) -> None:
        """When several countries' boxes hold the points, the one whose phones read best."""
        if self._country_candidates and self.country:
            self.plan.defaults_why.append(
                f"country {self.country}: the points lie in "
                + ", ".join(self._country_candidates)
                + f"; the phones read best in {self.country}"
            )
            for prop in self.plan.fields:
                if prop.target == "location":
                    prop.spec["transform"]["coordinates"]["country"] = self.country
                    prop.why = (
                        prop.why.split("; ")[0]
                        + f"; the points lie in {self.country} (and in "
                        + ", ".join(c for c in self._country_candidates if c != self.country)
                        + ")"
                    )
        elif self.country:
            self.plan.defaults_why.append(f"country {self.country}: where the points lie")

    def address(self) -> None:
        """Street (with a house number column, one address), postal code of the country,
        locality, region and country columns."""
        plan = self.plan
        others = ("locality", "region", "country", "postal_code", "number", "email", "website")
        streets = [
            c
            for c in self.named("street")
            if not any(names(c.path, o) for o in (*others, "street_type"))
            and share(c.texts(), lambda t: any(ch.isalpha() for ch in t)) >= 0.9
            and share(c.texts(), lambda t: t.strip().casefold() not in _FLAGS) >= 0.9
        ]
        if streets:
            street = streets[0]
            numbers = [
                c
                for c in self.named("number")
                if c.path != street.path and c.order > street.order - 3
            ]
            numbers = [
                c
                for c in numbers
                if share(c.texts(), lambda t: any(ch.isdigit() for ch in t)) >= 0.8
            ]
            # the kind of street (CALLE, PLAZA) in a column of its own next to the street's
            kinds = [
                c
                for c in self.named("street_type")
                if 0 < abs(c.order - street.order) <= 3
                and c.fill >= 0.5
                and share(c.texts(), lambda t: any(ch.isalpha() for ch in t)) >= 0.9
            ]
            if numbers and kinds:
                num, kind = numbers[0], kinds[0]
                plan.add(
                    "location.street",
                    {
                        "from": {"type": kind.path, "street": street.path, "number": num.path},
                        "transform": {"template": "{type} {street} {number}"},
                    },
                    f"{kind.path}, {street.path} and {num.path} together form the street address",
                    [kind.path, street.path, num.path],
                )
                self.use(kind.path, street.path, num.path)
            elif numbers:
                num = numbers[0]
                plan.add(
                    "location.street",
                    {
                        "from": {"street": street.path, "number": num.path},
                        "transform": {"template": "{street} {number}"},
                    },
                    f"{street.path} and {num.path} together form the street address",
                    [street.path, num.path],
                )
                self.use(street.path, num.path)
            else:
                plan.add(
                    "location.street",
                    {"from": street.path, "transform": "text"},
                    f"{street.path} is named like a street address",
                    [street.path],
                )
                self.use(street.path)
        if self.country:
            for column in self.named("postal_code"):
                ok = share(column.texts(), lambda t: is_postal_code(t, self.country or ""))
                if ok >= 0.8:
                    plan.add(
                        "location.postal_code",
                        {"from": column.path, "transform": {"postal_code": {"invalid": "keep"}}},
                        f"{pct(ok)} of the values are postal codes of {self.country}",
                        [column.path],
                    )
                    self.use(column.path)
                    break
        else:
            found = self.named("postal_code")
            if found:
                plan.add(
                    "location.postal_code",
                    {"from": found[0].path, "transform": "str"},
                    "named like a postal code (no country to check it)",
                    [found[0].path],
                )
                self.use(found[0].path)
        for target, word in (("location.locality", "locality"), ("location.region", "region")):
            found = [
                c
                for c in self.preferred(self.named(word))
                if not id_like(c.path)
                and share(
                    c.texts(), lambda t: any(ch.isalpha() for ch in t) and not looks_like_url(t)
                )
                >= 0.9
            ]
            if found:
                column = found[0]
                distinct = len(set(column.texts()))
                plan.add(
                    target,
                    {"from": column.path, "transform": "text"},
                    f"{column.path} is named like a {word} ({distinct} distinct values)",
                    [column.path],
                )
                self.use(column.path)
                if len(found) > 1:
                    plan.undecided.append(
                        f"{target}: also named so: {', '.join(c.path for c in found[1:3])}"
                    )
        for column in self.named("country"):
            from pipeline_core.builtin.address import country

            ok = share(column.texts(), lambda t: bool(country(t)))
            if ok >= 0.8:
                plan.add(
                    "location.country",
                    {"from": column.path, "transform": {"country": {"invalid": "drop"}}},
                    f"{pct(ok)} of the values name a country",
                    [column.path],
                )
                self.use(column.path)
                break
