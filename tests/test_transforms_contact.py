"""Phones (the Fáilte Ireland file's messy cells), e-mail addresses and URLs."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from conftest import ROOT

from pipeline_core.builtin.contact import clean_url, email
from pipeline_core.builtin.phone import phone
from pipeline_core.exceptions import PartialTransformError
from pipeline_core.transforms import TransformContext

FAILTE = ROOT / "mappings/samples/failte-ireland-attractions/attractions.csv"
IRELAND = TransformContext("failte-ireland", {"country": "IE"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+353(0)91658108", "+35391658108"),  # Kinvara Visitor Information Point
        ("+353(0)861705934", "+353861705934"),  # Medieval Mile Museum
        ("+00353(0)599142066", "+353599142066"),
        ("+(0)861580949", "+353861580949"),
        ("+353(0)719161518/9161526", "+353719161518"),
        ("+353(0)539152500Wexford", "+353539152500"),
        ("+353(0)876674522-Joe", "+353876674522"),
        ("+353(0)12806961ext238", "+35312806961;ext=238"),
        ("+44(0)2087273532", "+442087273532"),
        ("1890876769", "+3531890876769"),
        ("Tel: 091 555 0100 / 087 123 4567", "+353871234567"),
        ("Tel.: +41 (0)44 215 40 00, Fax: +41 44 215 40 01", "+41442154000"),
        ("0049 89 123456", "+4989123456"),
    ],
)
def test_phone_numbers_to_e164(value: str, expected: str) -> None:
    assert phone(value, IRELAND) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("System.Object[]", "no phone number in the text"),
        ("+", "no phone number in the text"),
        ("+353(0)7497", "not a valid phone number in IE"),
        ("+354(0)567722893", "not a valid phone number in IS"),
        ("8831090(0)86-8831090", "not a valid phone number in IE"),
    ],
)
def test_phone_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        phone(value, IRELAND)
    assert str(raised.value) == message


def test_the_region_comes_from_the_argument_then_the_source() -> None:
    assert phone("02 33 48 83 56", region="FR") == "+33233488356"
    assert phone("091 658 108", TransformContext("s", {"phone_region": "IE", "country": "GB"})) == (
        "+35391658108"
    )
    with pytest.raises(ValueError, match=r"^a national number, but no region"):
        phone("091 658 108", TransformContext("s", {}))


def test_invalid_keep_keeps_the_text_and_reports_it() -> None:
    with pytest.raises(PartialTransformError) as raised:
        phone(" +353(0)7497 ", IRELAND, invalid="keep")
    assert str(raised.value) == "not a valid phone number in IE"
    assert raised.value.kept == "+353(0)7497"


def test_every_failte_ireland_phone() -> None:
    with FAILTE.open(encoding="utf-8") as handle:
        cells = [row["Telephone"] for row in csv.DictReader(handle) if row["Telephone"]]
    outcomes: Counter[str] = Counter()
    for cell in cells:
        try:
            phone(cell, IRELAND)
            outcomes["ok"] += 1
        except ValueError as exc:
            outcomes[str(exc)] += 1
    assert outcomes == {
        "ok": 2754,
        "not a valid phone number in IE": 20,
        "no phone number in the text": 2,
        "not a valid phone number in IS": 1,
        "not a valid phone number in XK": 1,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Info@Example.IE", "info@example.ie"),
        ("mailto:Info@Abbaye.FR?subject=Visite", "info@abbaye.fr"),
        ("<a@b.ie>", "a@b.ie"),
        ("info@abbaye.fr ; contact@x.fr", "info@abbaye.fr"),
    ],
)
def test_email(value: str, expected: str) -> None:
    assert email(value) == expected


def test_email_errors() -> None:
    with pytest.raises(ValueError) as raised:
        email("info@example")
    assert str(raised.value) == (
        "not an e-mail address (The part after the @-sign is not valid. It should have a period)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "www.Example.ie/a b?utm_source=x&id=3&fbclid=abc#top",
            "https://www.example.ie/a%20b?id=3#top",
        ),
        ("http://EXAMPLE.org/?utm_medium=email", "http://example.org/"),
        ("example.org/café?q=é", "https://example.org/caf%C3%A9?q=%C3%A9"),
        ("https://x.ie/p?gclid=1&ref=a,b", "https://x.ie/p?ref=a,b"),
    ],
)
def test_clean_url(value: str, expected: str) -> None:
    assert clean_url(value) == expected


def test_clean_url_errors() -> None:
    with pytest.raises(ValueError, match=r"^not an http\(s\) URL \(scheme mailto:\)$"):
        clean_url("mailto:info@example.org")
