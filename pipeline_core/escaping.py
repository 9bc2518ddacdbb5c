"""Control characters in values shown in logs and on the terminal, and in staged text
(decision 57).

A value from a feed (a record id, a field) may hold a newline that forges a log line, or
ANSI escapes that drive the terminal. :func:`shown` escapes every control character of a
value put in a message (``\\n`` → ``\\\\n``, ESC → ``\\\\x1b``); :func:`install_log_escaping`
makes every log record do so with its arguments, and with the control characters other
than tab and newline of its message. :func:`strip_controls` takes control characters other
than tab and newline out of text before it is staged.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

#: Control characters (C0, DEL, C1) and the Unicode bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The same, but tab and newline (kept in multi-line text).
_CONTROL_BUT_TAB_NEWLINE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: What those characters (but tab, newline and carriage return) look like in orjson's
#: output: ``\u00XX`` and ``\b``/``\f`` escapes, DEL, C1 and the bidi overrides as UTF-8.
#: A match may be a false alarm (a text holding a backslash and ``b``); the walk decides.
_SERIALISED_CONTROL = re.compile(
    rb"\\u00[01][0-9a-f]|\\[bf]|\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: Any) -> str:
    """``value`` as text fit for one log line or terminal line: control characters escaped."""
    return _CONTROL.sub(_escape, value if isinstance(value, str) else str(value))


def shown_lines(text: str) -> str:
    """``text`` with control characters escaped, except tab and newline."""
    return _CONTROL_BUT_TAB_NEWLINE.sub(_escape, text)


#: What is stripped from staged text: the same but NUL, which validation refuses (the
#: database cannot store it: decision 44's record is invalid, not silently changed).
_STRIPPED = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` without control characters other than tab, newline (and carriage return)
    and NUL (which validation refuses)."""
    return _STRIPPED.sub("", text)


def _escaped_arg(arg: Any) -> Any:
    if isinstance(arg, str | BaseException):
        return shown(arg)
    return arg


def install_log_escaping() -> None:
    """Make every log record escape control characters in its arguments (all of them) and
    in its message (all but tab and newline). Idempotent; called by the CLI and the Scrapy
    runtime before anything is logged."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "escapes_controls", False):
        return

    def escaping_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = shown_lines(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_escaped_arg(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _escaped_arg(arg) for key, arg in record.args.items()}
        return record

    escaping_factory.escapes_controls = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(escaping_factory)


def strip_record_controls(record: dict[str, Any]) -> str | None:
    """Take control characters other than tab and newline out of every text of a mapped
    record, in place (``external_id`` is left as it is: it names the record; a NUL is left
    for validation to refuse). Returns the
    path of the first text that held nothing but such characters and whitespace (the
    record is then not staged), else None."""
    try:
        if not _SERIALISED_CONTROL.search(orjson.dumps(record)):
            return None  # the common case: one serialisation, no walk
    except (TypeError, orjson.JSONEncodeError):
        pass  # a value orjson cannot write: walk the record
    stack: list[tuple[Any, str]] = [(record, "")]
    while stack:
        container, path = stack.pop()
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items):
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, str):
                if where == "external_id" or not _CONTROL_BUT_TAB_NEWLINE.search(value):
                    continue
                if not _CONTROL_BUT_TAB_NEWLINE.sub("", value).strip():
                    return where
                container[key] = strip_controls(value)
            elif isinstance(value, dict | list):
                stack.append((value, where))
    return None
