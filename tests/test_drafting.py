"""``new-source NAME --from URL|FILE``: drafts of real feeds served on loopback, compared
field by field with the mappings an expert wrote, deterministic, staging their sample;
the CLI command and ``POST /configs/draft``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_kit import PREFIX, app_maker, bearer, http_client
from conftest import run_cli

from pipeline_core.drafting import DraftError, draft_source
from pipeline_core.operations.keys import create_key
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.testing.server import FeedServer

CORPUS = Path(__file__).parent / "fixtures" / "draft_corpus"
ODH = CORPUS / "odh-events" / "events-100.json"
TVA = CORPUS / "toerisme-vlaanderen-logies" / "tva_registry.csv"


@pytest.fixture(scope="module")
def registry() -> tuple[dict[str, Any], dict[str, type]]:
    pm = get_plugin_manager()
    return pm.transforms(), pm.fetchers()


def _lines(text: str) -> dict[str, str]:
    """Top-level and field lines of a draft, without their comments: key → value."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or ": " not in line:
            continue
        key, value = line.strip().split(": ", 1)
        out[key] = value.split("  # ")[0]
    return out


def test_a_json_api_with_next_links_is_drafted_over_loopback(registry: Any) -> None:
    transforms, fetchers = registry
    page = "/v1/Event?pagesize=100&pagenumber=1"
    with FeedServer({page: ODH.read_bytes()}) as server:
        draft = draft_source(
            "odh-events",
            server.url(page),
            allowed_hosts=("127.0.0.1",),
            transforms=transforms,
            fetchers=fetchers,
        )
        assert server.requests == [page]  # the first page only; nothing else is fetched
    lines = _lines(draft.text)
    assert lines["fetcher"] == "json_api"
    assert lines["url"] == server.url(page)
    assert lines["records"] == "Items"
    assert lines["id"] == "Id"
    assert lines["pagination"] == "{type: next_link, path: NextPage}"
    assert lines["defaults"] == "{language: de, country: IT, phone_region: IT}"
    assert lines["name"] == "{from: Detail, transform: {languages: {key: Title}}}"
    assert lines["contact.phone"] == (
        "{from: ContactInfos.de.Phonenumber, transform: {phone: {invalid: keep}}}"
    )
    assert lines["category"] == "{const: event}"
    assert "# NextPage holds the next page's URL" in draft.text.replace(
        "pagination: {type: next_link, path: NextPage}  ", "# "
    )
    assert (draft.sampled, draft.staged) == (100, 100)
    assert "id: 2 candidate ids, unique and named so: Id, _Meta.Id; Id taken" in draft.undecided


def test_loopback_is_refused_unless_allowed() -> None:
    with FeedServer({"/feed.json": ODH.read_bytes()}) as server:
        with pytest.raises(DraftError, match="refused by the URL policy") as caught:
            draft_source("odh-events", server.url("/feed.json"))
        assert server.requests == []
    assert "non-public address 127.0.0.1" in str(caught.value)


def test_a_latin1_csv_with_semicolons_is_drafted_over_loopback(registry: Any) -> None:
    transforms, fetchers = registry
    latin1 = TVA.read_text(encoding="utf-8").encode("latin-1")
    with FeedServer({"/tva_registry.csv": latin1}) as server:
        draft = draft_source(
            "tva",
            server.url("/tva_registry.csv"),
            allowed_hosts=("127.0.0.1",),
            transforms=transforms,
            fetchers=fetchers,
        )
    lines = _lines(draft.text)
    assert lines["fetcher"] == "csv_feed"
    assert lines["options"] in (
        "{encoding: cp1252, delimiter: ;}",
        "{encoding: latin-1, delimiter: ;}",
    )
    assert lines["id"] == "business_product_id"
    assert lines["location.street"] == (
        "{from: {street: street, number: house_number}, transform: {template: '{street} {number}'}}"
    )
    assert lines["contact.phone"] == "{from: [phone1, phone2], transform: {phone: {invalid: keep}}}"
    names = {r["name"] for r in draft.records}
    assert "Chat Botté" in names  # read with the detected encoding
    assert (draft.sampled, draft.staged) == (200, 200)


def test_the_same_sample_gives_the_same_draft_byte_for_byte(registry: Any) -> None:
    transforms, fetchers = registry
    for feed in (
        ODH,
        CORPUS / "madrid-agenda-cultural" / "206974-0-agenda-eventos-culturales-100.xml",
        CORPUS / "barcelona-hotels" / "opendatabcn_allotjament_hotels-csv.csv",
    ):
        first, second = (
            draft_source(
                "same", str(feed), sample_size=60, transforms=transforms, fetchers=fetchers
            )
            for _ in range(2)
        )
        assert first.text.encode() == second.text.encode()


def test_the_command_writes_the_draft_and_says_what_is_left(tmp_path: Path) -> None:
    feed = tmp_path / "spazierpunktogd.json"
    feed.write_bytes((CORPUS / "wien-stadtspaziergang" / "spazierpunktogd.json").read_bytes())
    env = {**os.environ, "PIPELINE_HOME": str(tmp_path / "home")}
    done = run_cli("new-source", "wien-walks", "--from", str(feed), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "wien-walks.yaml").read_text(encoding="utf-8")
    assert "url: spazierpunktogd.json\n" in text  # beside the mapping: a relative path
    assert done.stdout.splitlines()[:2] == [
        "wrote wien-walks.yaml (draft mapping of wien-walks, json)",
        "126 of 126 sampled records would stage (100%)",
    ]
    assert (
        "left unmapped (4): type, geometry.type, geometry_name, properties.OBJECTID" in done.stdout
    )
    assert (
        "  category: properties.KATEGORIE holds 6 values, none in the taxonomy; map them by hand"
        in (done.stdout)
    )
    again = run_cli("new-source", "wien-walks", "--from", str(feed), env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert "Error: wien-walks.yaml exists; choose another --out" in again.stderr


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def test_post_configs_draft_drafts_for_admins(make_app: Any) -> None:
    app = make_app()
    engine = app.state.api.engine
    client = http_client(app)
    admin = bearer(create_key(engine, role="admin")[1])
    operator = bearer(create_key(engine, role="operator")[1])
    scoped = bearer(create_key(engine, role="admin", dmo="stadt-wien")[1])
    feed = (CORPUS / "wien-sehenswuerdigkeiten" / "SEHENSWUERDIGOGD.json").read_bytes()
    with FeedServer({"/sights.json": feed}) as server:
        body = {"source": "wien-sights", "url": server.url("/sights.json"), "sample": 50}
        denied = client.post(PREFIX + "/configs/draft", json=body, headers=operator)
        other = client.post(
            PREFIX + "/configs/draft", json={**body, "dmo": "elsewhere"}, headers=scoped
        )
        answer = client.post(PREFIX + "/configs/draft", json=body, headers=admin)
        mine = client.post(PREFIX + "/configs/draft", json=body, headers=scoped)
        missing = client.post(
            PREFIX + "/configs/draft", json={**body, "url": server.url("/gone.json")}, headers=admin
        )
    local = client.post(
        PREFIX + "/configs/draft", json={**body, "url": "file:///etc/passwd"}, headers=admin
    )
    assert denied.status_code == 403
    assert other.status_code == 403
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["sampled"], got["staged"], got["share_staged"]) == (50, 50, 1.0)
    assert "records: features" in got["mapping"]
    assert "dmo: wien-sights\n" in got["mapping"]
    assert mine.json()["mapping"].count("dmo: stadt-wien\n") == 1
    assert missing.status_code == 422
    assert "HTTP 404" in missing.json()["errors"][0]["detail"]
    assert local.status_code == 422


def test_the_tutorial_shows_the_draft_of_its_feed(tmp_path: Path, registry: Any) -> None:
    transforms, fetchers = registry
    tutorial = Path(__file__).parent.parent / "docs" / "tutorial.md"
    text = tutorial.read_text(encoding="utf-8")
    shown = text.split("<!-- test: tutorial draft -->\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "feed").mkdir()
    feed = tmp_path / "feed" / "page-1.json"
    feed.write_bytes(
        (tutorial.parent / "examples" / "tutorial" / "feed" / "page-1.json").read_bytes()
    )
    draft = draft_source(
        "harbourtown",
        str(feed),
        dmo="visit-harbourtown",
        transforms=transforms,
        fetchers=fetchers,
        mapping_dir=tmp_path,
    )
    assert draft.text == shown
    output = "\n".join(
        [
            "wrote draft.yaml (draft mapping of harbourtown, json)",
            *draft.summary(),
            "next: edit draft.yaml, put it in mappings/ (or a folder of PIPELINE_SOURCES_PATH), "
            "then: dmo-pipeline preview harbourtown",
        ]
    )
    assert f"```text\n{output}\n```" in text


def test_a_page_with_json_ld_is_drafted_for_the_jsonld_fetcher(registry: Any) -> None:
    transforms, fetchers = registry
    item = (Path(__file__).parent.parent / "mappings" / "samples" / "datatourisme-poi").glob(
        "*.json"
    )
    document = next(item).read_text(encoding="utf-8")
    page = (
        '<!doctype html><html><head><script type="application/ld+json">'
        f"{document}</script></head><body><h1>Abbaye</h1></body></html>"
    ).encode()
    bare = b"<!doctype html><html><body><p>No structured data.</p></body></html>"
    with FeedServer({"/abbaye.html": page, "/bare.html": bare}) as server:
        draft = draft_source(
            "abbaye",
            server.url("/abbaye.html"),
            allowed_hosts=("127.0.0.1",),
            transforms=transforms,
            fetchers=fetchers,
        )
        with pytest.raises(DraftError, match=r"without schema\.org items"):
            draft_source("bare", server.url("/bare.html"), allowed_hosts=("127.0.0.1",))
    lines = _lines(draft.text)
    assert draft.text.splitlines()[1] == "# format: html (Content-Type text/html)"
    assert lines["fetcher"] == "jsonld"
    assert lines["defaults"] == "{language: fr, country: FR, phone_region: FR}"
    assert lines["$"] == "{from: isLocatedAt.0.openingHoursSpecification, transform: opening_hours}"
    assert (draft.sampled, draft.staged) == (1, 1)


def test_pagination_is_recognised_from_link_headers_and_url_parameters(registry: Any) -> None:
    transforms, fetchers = registry
    feed = (CORPUS / "wien-sehenswuerdigkeiten" / "SEHENSWUERDIGOGD.json").read_bytes()
    linked = "/sights.json"
    paged = "/sights.json?page=1&per_page=63"
    offset = "/sights.json?offset=0&limit=63"
    headers = {linked: {"Link": '</sights.json?page=2>; rel="next"'}}
    with FeedServer({linked: feed, paged: feed, offset: feed}, headers=headers) as server:
        found = {
            path: _lines(
                draft_source(
                    "sights",
                    server.url(path),
                    allowed_hosts=("127.0.0.1",),
                    transforms=transforms,
                    fetchers=fetchers,
                ).text
            ).get("pagination")
            for path in (linked, paged, offset)
        }
    assert found == {
        linked: "{type: link_header}",
        paged: "{type: page, param: page, start: 1, size_param: per_page, size: 63}",
        offset: "{type: offset, param: offset, start: 0, size_param: limit, size: 63}",
    }


def test_swapped_coordinates_are_caught_with_the_country_box(tmp_path: Path, registry: Any) -> None:
    transforms, fetchers = registry
    rows = (CORPUS / "failte-attractions" / "attractions.csv").read_text(encoding="utf-8")
    header, rest = rows.split("\n", 1)
    # the export names its columns Longitude,Latitude: call them the other way round
    swapped = header.replace("Longitude,Latitude", "Latitude,Longitude")
    (tmp_path / "swapped.csv").write_text(f"{swapped}\n{rest}", encoding="utf-8")
    draft = draft_source(
        "swapped", str(tmp_path / "swapped.csv"), transforms=transforms, fetchers=fetchers
    )
    assert _lines(draft.text)["location"] == (
        "{from: {latitude: Latitude, longitude: Longitude}, "
        "transform: {coordinates: {country: IE, swapped: fix, invalid: drop}}}"
    )
    assert "the pairs look swapped: they lie in IE read the other way round" in draft.text
    assert draft.staged == draft.sampled == 200
