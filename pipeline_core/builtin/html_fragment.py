"""The text of an HTML fragment, read by lxml's HTML parser (for ``html_text``).

A parser rather than regular expressions: an attribute holding ``>``, an unclosed
``<p>``, a ``<script>`` with ``</div>`` in a string, entities without their ``;`` and
CDATA-escaped markup all read the way a browser reads them. Nothing is fetched and no
entity declared by the document is resolved (HTML has none).
"""

from __future__ import annotations

from typing import Any

from lxml import etree, html

#: Elements whose content is not text.
_HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "title"})
#: Elements that start and end a line.
_BLOCKS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
        "tr", "table", "section", "article", "header", "footer", "blockquote", "pre",
        "address", "figure", "figcaption", "hr",
    }
)  # fmt: skip


def _walk(element: Any, out: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else None
    if tag is not None and tag.lower() in _HIDDEN:
        if element.tail:
            out.append(element.tail)
        return
    if tag is not None and tag.lower() == "br":
        out.append("\n")
    elif tag is not None:
        if tag.lower() in _BLOCKS:  # a block starts a line, too
            out.append("\n")
        if element.text:
            out.append(element.text)
    if tag is not None:
        for child in element:
            _walk(child, out)
        if tag.lower() in _BLOCKS:
            out.append("\n")
    if element.tail:
        out.append(element.tail)


def fragment_text(markup: str) -> str:
    """The text of ``markup`` with blocks and ``<br>`` as newlines (spaces not yet folded)."""
    parser = html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = html.fragment_fromstring(markup, create_parent="div", parser=parser)
    except (etree.ParserError, ValueError):
        return ""
    out: list[str] = []
    _walk(root, out)
    return "".join(out)
