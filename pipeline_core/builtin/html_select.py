"""Selectors of the HTML fetchers: CSS or XPath, checked when the mapping loads.

An expression that starts with ``/``, ``./`` or ``(`` is XPath, any other CSS (with
parsel's ``::text`` and ``::attr(name)``). Links are the ``href`` of selected elements, or
the selected text or attribute itself.
"""

from __future__ import annotations

from typing import Any

from parsel import Selector, SelectorList


def html_of(response: Any) -> Selector:
    """The page as an HTML selector, whatever its Content-Type said (servers label HTML as
    text/plain or JSON more often than one would think)."""
    selector = getattr(response, "selector", None)
    if isinstance(selector, Selector) and selector.type == "html":
        return selector
    return Selector(text=response.text, type="html")


def is_xpath(expression: str) -> bool:
    """True when ``expression`` is XPath rather than CSS."""
    return expression.lstrip().startswith(("/", "./", "("))


def select(node: Any, expression: str) -> SelectorList[Any]:
    """The nodes ``expression`` selects in ``node`` (a response or selector)."""
    return node.xpath(expression) if is_xpath(expression) else node.css(expression)


def selector_error(expression: str) -> str | None:
    """Why ``expression`` is not a valid selector, or None."""
    probe = Selector(text="<html><body></body></html>")
    try:
        select(probe, expression)
    except Exception as exc:  # parsel raises ValueError, cssselect its own errors
        kind = "XPath" if is_xpath(expression) else "CSS"
        return f"not a valid {kind} selector: {expression!r} ({exc})"
    return None


def _value(node: Any) -> str:
    if isinstance(node.root, str):
        return node.root
    return node.xpath("string()").get() or ""


def texts(node: Any, expression: str) -> list[str]:
    """Text of each selected node (an element's whole text), stripped, empty ones left out."""
    found = (" ".join(_value(n).split()) for n in select(node, expression))
    return [text for text in found if text]


def links(node: Any, expression: str) -> list[str]:
    """The link of each selected node: an element's ``href`` (or ``src``), else its text."""
    found = []
    for n in select(node, expression):
        value = n.root if isinstance(n.root, str) else n.attrib.get("href") or n.attrib.get("src")
        if value and value.strip():
            found.append(value.strip())
    return found
