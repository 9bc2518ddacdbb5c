"""The type of an image, read from its first bytes (never from its URL or Content-Type)."""

from __future__ import annotations

#: Sniffed type → Pillow's format name.
PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}


def sniff(data: bytes) -> str | None:
    """``jpeg``, ``png``, ``gif`` or ``webp`` from the magic bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def describe(data: bytes) -> str:
    """What bytes that are not an image look like, for the error message."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page"
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "XML or SVG (not accepted)"
    if head.startswith((b"{", b"[")):
        return "JSON"
    if not data:
        return "empty"
    return f"unknown bytes starting {data[:8].hex(' ')}"
