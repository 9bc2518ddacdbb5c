"""Secrets a mapping may name, and the one function that reads them (decision 54).

A mapping file's header may name only its own DMO's environment variables:
``${DMO_SECRET_<DMO>__<NAME>}``, where ``<DMO>`` is the mapping's ``dmo`` in capitals with
each run of other characters than letters and digits made one ``_`` (``failte-ireland`` →
``FAILTE_IRELAND``) and ``<NAME>`` is capitals, digits and single underscores. The double
underscore ends the DMO's part, so no DMO's prefix is the start of another's. A stored
configuration (a ``pipeline.configs`` row, editable over HTTP) names no environment variable
at all. :func:`resolve_reference` is where a reference becomes its value; another kind of
reference (a stored credential) sits beside the environment there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pipeline_core.exceptions import MappingError

#: Start of every environment variable a mapping may name.
SECRET_PREFIX = "DMO_SECRET_"
#: A well-formed environment reference: ``${NAME}``.
ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
#: Any ``${...}`` reference, well-formed or not, to refuse those out of scope.
ANY_REF = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Z0-9]+(?:_[A-Z0-9]+)*")


def dmo_secret_prefix(dmo: str) -> str:
    """The prefix of the environment variables a mapping of ``dmo`` may name."""
    return SECRET_PREFIX + re.sub(r"[^A-Z0-9]+", "_", dmo.upper()).strip("_") + "__"


def reference_problem(name: str, dmo: str, stored: bool) -> str | None:
    """Why ``${name}`` may not be used by a mapping of ``dmo`` (None when it may).

    ``stored`` is true for a stored configuration, which may name no environment variable.
    """
    if stored:
        return (
            "a stored configuration cannot name environment variables; secrets of stored "
            "configurations are not read from the environment"
        )
    prefix = dmo_secret_prefix(dmo)
    if ENV_REF.fullmatch("${" + name + "}") and name.startswith(prefix):
        if _NAME.fullmatch(name[len(prefix) :]):
            return None
    return (
        f"a mapping of DMO {dmo} may only use environment variables named {prefix}NAME, so "
        "the pipeline's own settings and other DMOs' secrets never reach a source"
    )


def resolve_reference(
    name: str, dmo: str, origin: str, stored: bool, environ: Mapping[str, str] | None = None
) -> str:
    """The value of the reference ``${name}`` in a mapping of ``dmo`` (``stored``: a stored
    configuration), named ``origin`` in errors.

    Checked again here (a spider built without the load-time check cannot read outside its
    scope); an unset variable is an error naming it.
    """
    env = os.environ if environ is None else environ
    problem = reference_problem(name, dmo, stored)
    if problem is not None:
        raise MappingError(f"{origin}: ${{{name}}} refused: {problem}")
    if name not in env:
        raise MappingError(f"{origin}: needs environment variable {name}, which is not set")
    return env[name]


def resolve_template(
    template: str, dmo: str, origin: str, stored: bool, environ: Mapping[str, str] | None = None
) -> str:
    """``template`` with each ``${...}`` replaced by :func:`resolve_reference` (in one pass,
    so a value holding ``${...}`` is not read again). A ``${credential:NAME}`` of a stored
    configuration is left as it is, for :mod:`pipeline_core.credentials` to resolve."""

    def value(match: re.Match[str]) -> str:
        if stored and match.group(1).startswith("credential:"):
            return match.group(0)
        return resolve_reference(match.group(1), dmo, origin, stored, environ)

    return ANY_REF.sub(value, template)
