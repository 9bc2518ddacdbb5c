"""The jsonld default mapping's images: schema.org ``image`` and DATAtourisme's
``hasRepresentation`` through the ``schema_images`` transform."""

from __future__ import annotations

from pipeline_core.builtin.schema_org import schema_images


def test_schema_images_reads_urls_image_objects_and_representations() -> None:
    value = {
        "image": [
            "https://visit.example/a.jpg",
            {
                "contentUrl": "https://visit.example/b.jpg",
                "caption": {"en": ["The bay"]},
                "author": {"name": "Ann Photographer"},
                "license": "https://creativecommons.org/licenses/by/4.0/",
            },
            "mailto:nobody@example.org",  # not an image URL: left out
            "https://visit.example/a.jpg",  # twice: kept once
        ],
        "representations": [
            {
                "ebucore:hasRelatedResource": [
                    {"ebucore:locator": ["https://cdn.example.fr/c.jpg"]}
                ],
                "ebucore:hasAnnotation": [
                    {
                        "ebucore:title": {"fr": ["Le port"]},
                        "credits": ["OT Exemple"],
                        "ebucore:isCoveredBy": "CC BY-SA 4.0",
                    }
                ],
            },
            {"ebucore:hasAnnotation": [{"credits": ["no file"]}]},  # no locator: left out
        ],
    }
    assert schema_images(value) == [
        {"url": "https://visit.example/a.jpg"},
        {
            "url": "https://visit.example/b.jpg",
            "caption": "The bay",
            "credit": "Ann Photographer",
            "licence": "https://creativecommons.org/licenses/by/4.0/",
        },
        {
            "url": "https://cdn.example.fr/c.jpg",
            "caption": "Le port",
            "credit": "OT Exemple",
            "licence": "CC BY-SA 4.0",
        },
    ]
    assert schema_images({"image": "not a url at all"}) is None
