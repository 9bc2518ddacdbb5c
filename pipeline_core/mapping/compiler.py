"""Compile a mapping document into a fast function from a source record to a canonical one.

Each field spec is turned once into a closure (path getters split in advance, transforms
bound to their arguments), so mapping a record is a loop of plain calls. The mapping
language is documented in ``docs/reference/mapping.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from pipeline_core.exceptions import (
    DroppedValueError,
    MappingError,
    PartialTransformError,
    RecordError,
    TransformError,
)
from pipeline_core.mapping.document import MappingDocument
from pipeline_core.mapping.invalid import INVALID_CHOICES, fits_check, with_invalid
from pipeline_core.mapping.memo import MemoStats, TransformMemo
from pipeline_core.mapping.paths import PathError, bracket_getter, is_plain
from pipeline_core.mapping.paths import path_parts as _path_parts
from pipeline_core.model import I18N_FIELDS, IDENTITY_FIELDS, listing_schema
from pipeline_core.transforms import Transform, TransformContext

Getter = Callable[[Any], Any]
ValueFn = Callable[[Any], Any]


class _FieldFailure(Exception):
    """A field could not be produced; carries the canonical field path."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.value = value


#: Reasons of values kept by a transform that could not convert them (see
#: :class:`PartialTransformError`) while one record is mapped: (field, message, value).
_kept_reasons: ContextVar[list[tuple[str, str, Any]] | None] = ContextVar(
    "_kept_reasons", default=None
)


def _keep(where: str, step: str, exc: PartialTransformError, value: Any, shown_from: str) -> Any:
    """The value a transform kept; its reason is noted for :meth:`CompiledMapping.apply`."""
    reasons = _kept_reasons.get()
    if reasons is not None:
        outcome = "left out" if isinstance(exc, DroppedValueError) else "kept as published"
        reasons.append(
            (where, f"{step}: {exc} (value {value!r} from {shown_from}); {outcome}", value)
        )
    return exc.kept


def _empty(value: Any) -> bool:
    if value is None:
        return True
    kind = value.__class__
    if kind is str:
        return not value or value.isspace()
    if kind is list or kind is dict:
        return not value
    return False


def make_getter(path: str) -> Getter:
    """A function reading a path (``a.b.0.c``; ``$`` is the record; ``item[name=x]`` and
    ``item[*]`` as in :mod:`pipeline_core.mapping.paths`) from a record."""
    if path in ("$", ""):
        return lambda record: record
    if not is_plain(path):
        return bracket_getter(path)
    parts = _path_parts(path)
    if len(parts) == 1 and parts[0][1] is None:
        key = parts[0][0]

        def get_one(record: Any) -> Any:
            return record.get(key) if isinstance(record, dict) else None

        return get_one

    def get(record: Any) -> Any:
        value = record
        for key, index in parts:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list) and index is not None:
                value = value[index] if index < len(value) else None
            else:
                return None
            if value is None:
                return None
        return value

    return get


def _map_key(value: Any) -> str:
    """Text under which ``map`` looks a value up: 2 → "2", True → "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _named(getters: dict[str, Getter]) -> Getter:
    """``from: {latitude: lat, longitude: lon}``: an object of the named values (None when
    all are empty), for transforms that combine fields."""

    def named(record: Any) -> Any:
        out = {}
        for name, getter in getters.items():
            value = getter(record)
            if not _empty(value):
                out[name] = value
        return out or None

    return named


def _coalesce(getters: list[Getter]) -> Getter:
    if len(getters) == 1:
        return getters[0]

    def first(record: Any) -> Any:
        for getter in getters:
            value = getter(record)
            if not _empty(value):
                return value
        return None

    return first


@dataclass(frozen=True)
class _Inline:
    """What :func:`_generate_builder` needs to write a field spec out inline."""

    parts: list[tuple[str, int | None]]
    steps: list[tuple[str, Callable[[Any], Any]]]
    shown_from: str
    where: str
    value_map: dict[str, Any] | None = None
    has_map_default: bool = False
    map_default: Any = None
    map_keep: bool = False
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class _Bound:
    name: str
    call: Callable[[Any], Any]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return dict(listing_schema()["$defs"][ref[len("#/$defs/") :]])
    return node


def schema_at(node: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    """The canonical schema of a target path below ``node``, or None when it has no place."""
    for part in path:
        node = _resolve(node)
        properties = node.get("properties", {})
        if part in properties:
            node = properties[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return _resolve(node)


class MappingCompiler:
    """Turns field specs into value functions, looking transforms up in a registry."""

    def __init__(self, doc: MappingDocument, transforms: Mapping[str, Transform]) -> None:
        self.doc = doc
        self.transforms = transforms
        defaults = doc.doc.get("defaults", {})
        self.context = TransformContext(source=doc.source, defaults=defaults)
        #: The memos of the pure transform steps compiled so far (reset per crawl).
        self.memos: list[TransformMemo] = []

    def error(self, where: str, message: str) -> MappingError:
        """A mapping error naming the document and the place in it (``field``)."""
        error = MappingError(f"{self.doc.origin}: at {where}: {message}")
        error.field = where  # type: ignore[attr-defined]
        return error

    def getter(self, path: str, where: str) -> Getter:
        """:func:`make_getter`, a wrong path being a mapping error naming the field."""
        try:
            return make_getter(path)
        except PathError as exc:
            raise self.error(where, str(exc)) from None

    def _bind(self, spec: Any, where: str) -> _Bound:
        if isinstance(spec, str):
            name, args = spec, {}
        else:
            ((name, args),) = spec.items()
        transform = self.transforms.get(name)
        if transform is None:
            known = ", ".join(sorted(self.transforms))
            raise self.error(where, f"unknown transform {name!r} (known: {known})")
        params = [
            p for p in inspect.signature(transform.func).parameters.values() if p.name != "context"
        ][1:]
        if args is None:
            args = {}
        elif not isinstance(args, dict):  # {date: "%d/%m/%Y"}: the first argument
            if not params:
                raise self.error(where, f"transform {name!r} takes no arguments")
            args = {params[0].name: args}
        accepted = {p.name for p in params}
        invalid = "error"
        if "invalid" in args and "invalid" not in accepted:
            invalid = args["invalid"]
            args = {k: v for k, v in args.items() if k != "invalid"}
        if invalid not in INVALID_CHOICES:
            raise self.error(
                where, f"invalid must be one of {', '.join(INVALID_CHOICES)}, not {invalid!r}"
            )
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            unknown = sorted(set(args) - accepted)
            if unknown:
                raise self.error(
                    where,
                    f"transform {name!r} has no argument {unknown[0]!r} "
                    f"(it takes: {', '.join(sorted(accepted)) or 'none'})",
                )
        call: Callable[[Any], Any]
        if transform.wants_context:
            call = partial(transform.func, context=self.context, **args)
        else:
            call = partial(transform.func, **args) if args else transform.func
        if transform.cacheable:
            memo = TransformMemo(call)
            self.memos.append(memo)
            call = memo
        if invalid == "keep":
            field = where.removesuffix(".transform").split(".")
            i18n_text = len(field) <= 2 and field[0] in I18N_FIELDS  # text under a language
            schema = None if i18n_text else schema_at(listing_schema(), field)
            call = with_invalid(call, invalid, fits_check(schema))
        else:
            call = with_invalid(call, invalid)
        return _Bound(name, call)

    def value_fn(self, spec: Any, where: str) -> ValueFn:
        """Compile one field spec (a path string or a spec object) into a value function."""
        if isinstance(spec, str):
            getter = self.getter(spec, where)

            def plain(record: Any) -> Any:  # (inlined by _generate_builder)
                value = getter(record)
                if value is None:
                    return None
                kind = value.__class__
                if kind is str:
                    return None if not value or value.isspace() else value
                if (kind is list or kind is dict) and not value:
                    return None
                return value

            if is_plain(spec):
                plain.inline = _Inline(_path_parts(spec), [], spec, "")  # type: ignore[attr-defined]
            return plain
        self._check_spec(spec, where)
        if "each" in spec:
            return self._each_fn(spec, where)
        if "const" in spec:
            const = spec["const"]
            return lambda record: const
        sources = spec.get("from", "$")
        if isinstance(sources, dict):
            paths = list(sources.values())
            getter = _named({name: self.getter(p, where) for name, p in sources.items()})
        else:
            paths = sources if isinstance(sources, list) else [sources]
            getter = _coalesce([self.getter(p, where) for p in paths])
        shown_from = ", ".join(paths)
        transforms_spec = spec.get("transform", [])
        if not isinstance(transforms_spec, list):
            transforms_spec = [transforms_spec]
        bound = [self._bind(t, f"{where}.transform") for t in transforms_spec]
        value_map = spec.get("map")
        if value_map is not None:  # YAML keys may be numbers; values are looked up as text
            value_map = {_map_key(k): v for k, v in value_map.items()}
        has_map_default = "map_default" in spec
        map_default = spec.get("map_default")
        map_keep = map_default == {"keep": True}  # values not in the map stay as they are
        default = spec.get("default")
        required = bool(spec.get("required", False))

        def value(record: Any) -> Any:
            value = getter(record)
            if _empty(value):
                value = None
            else:
                for step in bound:
                    original = value
                    try:
                        value = step.call(value)
                    except PartialTransformError as exc:
                        value = _keep(where, step.name, exc, original, shown_from)
                        break
                    except (TransformError, ValueError, TypeError) as exc:
                        raise _FieldFailure(
                            where,
                            f"{step.name}: {exc} (value {original!r} from {shown_from})",
                            original,
                        ) from None
                    if _empty(value):
                        value = None
                        break
                if value is not None and value_map is not None:
                    key = value if value.__class__ is str else _map_key(value)
                    if key in value_map:
                        value = value_map[key]
                    elif map_keep:
                        pass
                    elif has_map_default:
                        value = map_default
                    else:
                        raise _FieldFailure(
                            where,
                            f"value {key!r} from {shown_from} is not in the field's map",
                            value,
                        )
            if value is None:
                value = default
            if value is None and required:
                raise _FieldFailure(where, f"required, but {shown_from} is empty")
            return value

        if len(paths) == 1 and not isinstance(sources, dict) and is_plain(paths[0]):
            value.inline = _Inline(  # type: ignore[attr-defined]
                _path_parts(paths[0]),
                [(step.name, step.call) for step in bound],
                shown_from,
                where,
                value_map,
                has_map_default,
                map_default,
                map_keep,
                default,
                required,
            )
        return value

    def _check_spec(self, spec: dict[str, Any], where: str) -> None:
        """Refuse key combinations that would be silently ignored."""
        if "fields" in spec and "each" not in spec:
            raise self.error(where, "'fields' goes with 'each' (a list of objects)")
        for lead, others in (
            ("each", ("from", "const", "transform", "map", "map_default", "default")),
            ("const", ("from", "transform", "map", "map_default", "default", "required")),
        ):
            if lead in spec:
                clash = [key for key in others if key in spec]
                if clash:
                    raise self.error(where, f"'{lead}' cannot be combined with '{clash[0]}'")
        if "map_default" in spec and "map" not in spec:
            raise self.error(where, "'map_default' goes with 'map'")

    def _each_fn(self, spec: dict[str, Any], where: str) -> ValueFn:
        items_getter = self.getter(spec["each"], where)
        target = schema_at(listing_schema(), where.split("."))
        if target is None or target.get("type") != "array":
            raise self.error(where, "'each' builds a list, and this field is not a list")
        sub = self.object_fn(spec.get("fields", {}), where, _resolve(target.get("items", {})))

        def each(record: Any) -> Any:
            items = items_getter(record)
            if _empty(items):
                return None
            if not isinstance(items, list):
                items = [items]
            out = []
            for index, item in enumerate(items):
                try:
                    obj = sub(item)
                except _FieldFailure as failure:
                    raise _FieldFailure(
                        failure.field.replace(where, f"{where}.{index}", 1),
                        failure.message,
                        failure.value,
                    ) from None
                if obj:
                    out.append(obj)
            return out or None

        return each

    def _check_target(self, schema: dict[str, Any], path: list[str], full: str) -> None:
        for depth in range(1, len(path) + 1):
            if schema_at(schema, path[:depth]) is None:
                parent = schema_at(schema, path[: depth - 1]) or {}
                known = ", ".join(sorted(parent.get("properties", {}))) or "none"
                raise self.error(
                    full,
                    f"{path[depth - 1]!r} is not a field of the canonical listing here "
                    f"(known: {known})",
                )

    def object_fn(
        self, fields: Mapping[str, Any], where: str = "", schema: dict[str, Any] | None = None
    ) -> Callable[[Any], dict]:
        """Compile a ``fields`` block into a function building one object.

        Dotted targets are grouped by their first part into nested builders, so
        ``location.latitude`` and ``location.longitude`` build one ``location`` object.
        """
        tree: dict[str, Any] = {}
        spread: ValueFn | None = None
        for target, spec in fields.items():
            if target == "$" and not where:  # an object of several canonical fields
                spread = self.value_fn(spec, "$")
                continue
            path = target.split(".")
            full = f"{where}.{target}" if where else target
            if not where and path[0] in IDENTITY_FIELDS:
                raise self.error(
                    full,
                    f"{path[0]!r} is set by dmo-pipeline (the source's name, the record's id "
                    "from the top-level 'id' key, the source's dmo); do not map it",
                )
            self._check_target(schema or listing_schema(), path, full)
            node = tree
            for part in path[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):  # "name: x" and "name.de: y" together
                    if not self._whole_and_parts(part, where):
                        raise self.error(
                            full, f"{part!r} is mapped as a whole and by its parts; map one way"
                        )
                    child = node[part] = {"": child}
                node = child
            fn = self.value_fn(spec, full)
            if isinstance(node.get(path[-1]), dict):
                if not self._whole_and_parts(path[-1], where):
                    raise self.error(
                        full, f"{path[-1]!r} is mapped as a whole and by its parts; map one way"
                    )
                node[path[-1]][""] = fn
            else:
                node[path[-1]] = fn
        language = self.context.defaults.get("language", "en")
        i18n = I18N_FIELDS if not where else frozenset()
        build = _generate_builder(tree, i18n, language, f"{self.doc.origin}:{where or 'fields'}")
        return build if spread is None else _with_spread(spread, build)

    @staticmethod
    def _whole_and_parts(field: str, where: str) -> bool:
        """May a top-level field be mapped both whole and by its parts? i18n text
        (``name`` and ``name.de``) and objects (``location`` from ``coordinates`` and
        ``location.locality``), the parts winning."""
        if where:
            return False
        if field in I18N_FIELDS:
            return True
        return (schema_at(listing_schema(), [field]) or {}).get("type") == "object"


def _with_spread(spread: ValueFn, build: Callable[[Any], dict]) -> Callable[[Any], dict]:
    """Merge the object of the ``$`` field spec under the record's own fields: a field
    mapped by name wins, and objects (``location``) are merged one level deep."""

    def build_spread(record: Any) -> dict:
        out = build(record)
        extra = spread(record)
        if extra is None:
            return out
        if extra.__class__ is not dict:
            raise _FieldFailure("$", f"expected an object of fields, got {type(extra).__name__}")
        for key, value in extra.items():
            own = out.get(key)
            if own is None:
                out[key] = value
            elif own.__class__ is dict and value.__class__ is dict:
                out[key] = {**value, **own}
        return out

    return build_spread


def _tree_builder(
    tree: Mapping[str, Any], i18n: frozenset[str], language: str
) -> Callable[[Any], dict]:
    """A builder for one level of the target tree (see :meth:`MappingCompiler.object_fn`)."""
    leaves: list[tuple[str, ValueFn]] = []
    wrapped: list[tuple[str, ValueFn]] = []
    branches: list[tuple[str, ValueFn | None, Callable[[Any], dict]]] = []
    for key, node in tree.items():
        if isinstance(node, dict):
            own = node.get("")
            rest = {k: v for k, v in node.items() if k != ""}
            branches.append((key, own, _tree_builder(rest, frozenset(), language)))
        elif key in i18n:
            wrapped.append((key, node))
        else:
            leaves.append((key, node))
    i18n_branches = {key for key, _, _ in branches if key in i18n}

    def build(record: Any) -> dict:
        out: dict[str, Any] = {}
        for key, fn in leaves:
            value = fn(record)
            if value is not None:
                out[key] = value
        for key, fn in wrapped:
            value = fn(record)
            if value is not None:
                out[key] = value if value.__class__ is dict else {language: value}
        for key, own, sub in branches:
            value = sub(record)
            if own is not None:
                base = own(record)
                if base is not None:
                    if base.__class__ is not dict:
                        if key not in i18n_branches:
                            raise _FieldFailure(
                                key, f"expected an object, got {type(base).__name__}"
                            )
                        base = {language: base}
                    value = {**base, **value}
            if value:
                out[key] = value
        return out

    return build


def _transform_failure(
    where: str, step: str, exc: Exception, value: Any, shown_from: str
) -> _FieldFailure:
    return _FieldFailure(where, f"{step}: {exc} (value {value!r} from {shown_from})", value)


def _generate_builder(
    tree: Mapping[str, Any], i18n: frozenset[str], language: str, name: str
) -> Callable[[Any], dict]:
    """Generate one Python function building the object of ``tree``.

    Plain paths and single transforms are written out inline (no call per field); other
    field specs call their compiled closure. Behaviour is that of :func:`_tree_builder`,
    which stays the reference and builds what cannot be inlined (a field mapped both
    whole and by language).
    """
    namespace: dict[str, Any] = {
        "_empty": _empty,
        "_fail": _transform_failure,
        "_not_in_map": lambda where, key, shown: _FieldFailure(
            where, f"value {key!r} from {shown} is not in the field's map", key
        ),
        "_missing": lambda where, shown: _FieldFailure(where, f"required, but {shown} is empty"),
        "_map_key": _map_key,
        "_errors": (TransformError, ValueError, TypeError),
        "_partial": PartialTransformError,
        "_keep": _keep,
    }
    lines = ["def build(record):", "    out = {}"]
    counter = iter(range(1_000_000))

    def value(fn: ValueFn, indent: str) -> str:
        n = next(counter)
        v = f"v{n}"
        info = getattr(fn, "inline", None)
        if info is None:
            namespace[f"f{n}"] = fn
            lines.append(f"{indent}{v} = f{n}(record)")
            return v
        parts = info.parts
        lines.append(f"{indent}{v} = record")
        for key, index in parts:
            if index is None:
                lines.append(f"{indent}{v} = {v}.get({key!r}) if isinstance({v}, dict) else None")
            else:
                lines.append(f"{indent}if isinstance({v}, dict):")
                lines.append(f"{indent}    {v} = {v}.get({key!r})")
                lines.append(f"{indent}elif isinstance({v}, list):")
                lines.append(f"{indent}    {v} = {v}[{index}] if {index} < len({v}) else None")
                lines.append(f"{indent}else:")
                lines.append(f"{indent}    {v} = None")
        lines.append(f"{indent}k{n} = {v}.__class__")
        lines.append(f"{indent}if k{n} is str:")
        lines.append(f"{indent}    if not {v} or {v}.isspace():")
        lines.append(f"{indent}        {v} = None")
        lines.append(f"{indent}elif (k{n} is list or k{n} is dict) and not {v}:")
        lines.append(f"{indent}    {v} = None")
        where, shown = info.where, info.shown_from
        several = len(info.steps) > 1
        if several:  # a kept value (PartialTransformError) ends the chain
            lines.append(f"{indent}kept{n} = False")
        for i, (step, call) in enumerate(info.steps):
            if isinstance(call, TransformMemo):  # a memo that steps aside rebinds the slot
                call.bind_slot(namespace, f"c{n}_{i}")
            else:
                namespace[f"c{n}_{i}"] = call
            guard = f" and not kept{n}" if several and i else ""
            lines.append(f"{indent}if {v} is not None{guard}:")
            lines.append(f"{indent}    try:")
            lines.append(f"{indent}        r{n} = c{n}_{i}({v})")
            lines.append(f"{indent}    except _partial as exc:")
            lines.append(f"{indent}        r{n} = _keep({where!r}, {step!r}, exc, {v}, {shown!r})")
            if several:
                lines.append(f"{indent}        kept{n} = True")
            lines.append(f"{indent}    except _errors as exc:")
            lines.append(
                f"{indent}        raise _fail({where!r}, {step!r}, exc, {v}, {shown!r}) from None"
            )
            # _empty, written out
            lines.append(f"{indent}    k{n} = r{n}.__class__")
            lines.append(f"{indent}    if k{n} is str:")
            lines.append(f"{indent}        {v} = None if not r{n} or r{n}.isspace() else r{n}")
            lines.append(f"{indent}    elif (k{n} is list or k{n} is dict) and not r{n}:")
            lines.append(f"{indent}        {v} = None")
            lines.append(f"{indent}    else:")
            lines.append(f"{indent}        {v} = r{n}")
        if info.value_map is not None:
            namespace[f"m{n}"] = info.value_map
            namespace[f"md{n}"] = info.map_default
            lines.append(f"{indent}if {v} is not None:")
            lines.append(f"{indent}    key{n} = {v} if {v}.__class__ is str else _map_key({v})")
            lines.append(f"{indent}    if key{n} in m{n}:")
            lines.append(f"{indent}        {v} = m{n}[key{n}]")
            if info.map_keep:
                pass
            elif info.has_map_default:
                lines.append(f"{indent}    else:")
                lines.append(f"{indent}        {v} = md{n}")
            else:
                lines.append(f"{indent}    else:")
                lines.append(f"{indent}        raise _not_in_map({where!r}, key{n}, {shown!r})")
        if info.default is not None:
            namespace[f"dv{n}"] = info.default
            lines.append(f"{indent}if {v} is None:")
            lines.append(f"{indent}    {v} = dv{n}")
        if info.required:
            lines.append(f"{indent}if {v} is None:")
            lines.append(f"{indent}    raise _missing({where!r}, {shown!r})")
        return v

    def emit(
        node_tree: Mapping[str, Any], target: str, keys_i18n: frozenset[str], indent: str
    ) -> None:
        for key, node in node_tree.items():
            if isinstance(node, dict) and "" in node:  # name: x with name.de: y
                n = next(counter)
                namespace[f"b{n}"] = _tree_builder({key: node}, keys_i18n, language)
                lines.append(f"{indent}{target}.update(b{n}(record))")
            elif isinstance(node, dict):
                n = next(counter)
                lines.append(f"{indent}d{n} = {{}}")
                emit(node, f"d{n}", frozenset(), indent)
                lines.append(f"{indent}if d{n}:")
                lines.append(f"{indent}    {target}[{key!r}] = d{n}")
            else:
                v = value(node, indent)
                lines.append(f"{indent}if {v} is not None:")
                if key in keys_i18n:
                    lines.append(
                        f"{indent}    {target}[{key!r}] = {v} if {v}.__class__ is dict "
                        f"else {{{language!r}: {v}}}"
                    )
                else:
                    lines.append(f"{indent}    {target}[{key!r}] = {v}")

    emit(tree, "out", i18n, "    ")
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<mapping {name}>", "exec"), namespace)
    builder: Callable[[Any], dict] = namespace["build"]
    builder.source = "\n".join(lines)  # type: ignore[attr-defined]
    return builder


class CompiledMapping:
    """A mapping ready to run: :meth:`external_id` and :meth:`apply` on source records."""

    def __init__(self, doc: MappingDocument, transforms: Mapping[str, Transform]) -> None:
        self.doc = doc
        self.source = doc.source
        self.dmo = doc.dmo
        compiler = MappingCompiler(doc, transforms)
        self._build = compiler.object_fn(doc.doc["fields"])
        for index, path in enumerate(doc.doc.get("personal_data", [])):
            if schema_at(listing_schema(), path.split(".")) is None:
                raise doc.error(
                    ["personal_data", index],
                    f"{path!r} is not a field of the canonical listing: personal data is "
                    "flagged by its canonical field (contact.phone, contact.email, "
                    "attributes.NAME; docs/reference/exports.md)",
                )

        #: The per-crawl caches of the mapping's pure transform steps.
        self.memos = compiler.memos
        defaults = doc.doc.get("defaults", {})
        self._language = defaults.get("language")
        self._country = defaults.get("country")
        self._category = defaults.get("category")
        self._licence = doc.doc.get("licence")
        #: What a row repeating an id of the crawl does (see pipeline_core.stages.repeats).
        self.on_repeat: str = doc.doc.get("on_repeat", "merge")
        if "id" in doc.doc:
            id_getter = make_getter(doc.doc["id"])
            self._key_getters: list[Getter] = [id_getter]
            self._id_field = doc.doc["id"]
        else:
            self._key_getters = [make_getter(p) for p in doc.doc["key"]]
            self._id_field = "key(" + ", ".join(doc.doc["key"]) + ")"

    def reset_memos(self) -> None:
        """Empty the caches of the pure transforms: a crawl starts (see
        :mod:`pipeline_core.mapping.memo`)."""
        for memo in self.memos:
            memo.reset()

    def memo_stats(self) -> MemoStats:
        """Hits and misses of the pure transforms' caches since :meth:`reset_memos`."""
        return MemoStats(
            sum(memo.hits for memo in self.memos), sum(memo.misses for memo in self.memos)
        )

    def external_id(self, payload: Any) -> str | None:
        """The record's id (or derived key), or None when it has none."""
        if len(self._key_getters) == 1:
            value = self._key_getters[0](payload)
            if _empty(value) or isinstance(value, dict | list):
                return None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return str(value).strip()
        parts = []
        for getter in self._key_getters:
            value = getter(payload)
            parts.append("" if _empty(value) else " ".join(str(value).split()))
        if not any(parts):
            return None
        return "|".join(parts)

    def apply(
        self,
        payload: Any,
        external_id: str | None = None,
        kept: list[RecordError] | None = None,
    ) -> dict[str, Any]:
        """Map one source record; raise :class:`RecordError` naming the field at fault.

        A value a transform could not convert but kept (:class:`PartialTransformError`,
        e.g. opening hours kept as published) leaves the record valid; its reason is
        appended to ``kept`` as a :class:`RecordError` for the error rows.
        """
        if external_id is None:
            external_id = self.external_id(payload)
        if external_id is None:
            raise RecordError(self.source, None, self._id_field, "the record has no id")
        reasons: list[tuple[str, str, Any]] = []
        token = _kept_reasons.set(reasons)
        try:
            body = self._build(payload)
        except _FieldFailure as failure:
            raise RecordError(
                self.source, external_id, failure.field, failure.message, failure.value
            ) from None
        finally:
            _kept_reasons.reset(token)
        if kept is not None:
            kept.extend(RecordError(self.source, external_id, f, m, v) for f, m, v in reasons)
        record: dict[str, Any] = {
            "source": self.source,
            "external_id": external_id,
            "dmo": self.dmo,
        }
        if self._language and "language" not in body:
            record["language"] = self._language
        if self._category and "category" not in body:
            record["category"] = self._category
        record.update(body)
        if body.keys() & IDENTITY_FIELDS:  # a "$" object cannot change who the record is
            record.update(source=self.source, external_id=external_id, dmo=self.dmo)
        if self._country:
            location = record.setdefault("location", {})
            location.setdefault("country", self._country)
        if self._licence and "licence" not in record:
            record["licence"] = dict(self._licence)
        return record
