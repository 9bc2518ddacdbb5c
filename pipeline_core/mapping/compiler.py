"""Compile a mapping document into a fast function from a source record to a canonical one.

Each field spec is turned once into a closure (path getters split in advance, transforms
bound to their arguments), so mapping a record is a loop of plain calls. The mapping
language is documented in ``docs/reference/mapping.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from pipeline_core.exceptions import MappingError, RecordError, TransformError
from pipeline_core.mapping.document import MappingDocument
from pipeline_core.model import I18N_FIELDS
from pipeline_core.transforms import Transform, TransformContext

Getter = Callable[[Any], Any]
ValueFn = Callable[[Any], Any]


class _FieldFailure(Exception):
    """A field could not be produced; carries the canonical field path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    """A function reading a dotted path (``a.b.0.c``; ``$`` is the record) from a record."""
    if path in ("$", ""):
        return lambda record: record
    parts = [(part, int(part) if part.isdigit() else None) for part in path.split(".")]
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


def _memoize(call: Callable[[Any], Any], size: int = 4096) -> Callable[[Any], Any]:
    """Cache results of a pure transform for hashable values (bounded; errors not cached)."""
    cache: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        key = (value.__class__, value)  # 1, 1.0 and True are equal keys otherwise
        try:
            return cache[key]
        except KeyError:
            result = call(value)
            if len(cache) < size:
                cache[key] = result
            return result
        except TypeError:  # unhashable: a list or dict
            return call(value)

    return cached


@dataclass(frozen=True)
class _Bound:
    name: str
    call: Callable[[Any], Any]


class MappingCompiler:
    """Turns field specs into value functions, looking transforms up in a registry."""

    def __init__(self, doc: MappingDocument, transforms: Mapping[str, Transform]) -> None:
        self.doc = doc
        self.transforms = transforms
        defaults = doc.doc.get("defaults", {})
        self.context = TransformContext(source=doc.source, defaults=defaults)

    def _bind(self, spec: Any, where: str) -> _Bound:
        if isinstance(spec, str):
            name, args = spec, {}
        else:
            ((name, args),) = spec.items()
            if args is None:
                args = {}
            elif not isinstance(args, dict):
                args = {"arg": args}
        transform = self.transforms.get(name)
        if transform is None:
            known = ", ".join(sorted(self.transforms))
            raise MappingError(
                f"{self.doc.origin}: at {where}: unknown transform {name!r} (known: {known})"
            )
        call: Callable[[Any], Any]
        if transform.wants_context:
            call = partial(transform.func, context=self.context, **args)
        else:
            call = partial(transform.func, **args) if args else transform.func
        return _Bound(name, _memoize(call) if transform.cacheable else call)

    def value_fn(self, spec: Any, where: str) -> ValueFn:
        """Compile one field spec (a path string or a spec object) into a value function."""
        if isinstance(spec, str):
            getter = make_getter(spec)

            def plain(record: Any) -> Any:
                value = getter(record)
                if value is None:
                    return None
                kind = value.__class__
                if kind is str:
                    return None if not value or value.isspace() else value
                if (kind is list or kind is dict) and not value:
                    return None
                return value

            return plain
        if "each" in spec:
            return self._each_fn(spec, where)
        if "const" in spec:
            const = spec["const"]
            return lambda record: const
        sources = spec.get("from", "$")
        paths = sources if isinstance(sources, list) else [sources]
        getter = _coalesce([make_getter(p) for p in paths])
        shown_from = ", ".join(paths)
        transforms_spec = spec.get("transform", [])
        if not isinstance(transforms_spec, list):
            transforms_spec = [transforms_spec]
        bound = [self._bind(t, f"{where}.transform") for t in transforms_spec]
        value_map = spec.get("map")
        has_map_default = "map_default" in spec
        map_default = spec.get("map_default")
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
                    except (TransformError, ValueError, TypeError) as exc:
                        raise _FieldFailure(
                            where, f"{step.name}: {exc} (value {original!r} from {shown_from})"
                        ) from None
                    if _empty(value):
                        value = None
                        break
                if value is not None and value_map is not None:
                    key = value if isinstance(value, str) else str(value)
                    if key in value_map:
                        value = value_map[key]
                    elif has_map_default:
                        value = map_default
                    else:
                        raise _FieldFailure(
                            where, f"value {key!r} from {shown_from} is not in the field's map"
                        )
            if value is None:
                value = default
            if value is None and required:
                raise _FieldFailure(where, f"required, but {shown_from} is empty")
            return value

        return value

    def _each_fn(self, spec: dict[str, Any], where: str) -> ValueFn:
        items_getter = make_getter(spec["each"])
        sub = self.object_fn(spec.get("fields", {}), where)

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
                        failure.field.replace(where, f"{where}.{index}", 1), failure.message
                    ) from None
                if obj:
                    out.append(obj)
            return out or None

        return each

    def object_fn(self, fields: Mapping[str, Any], where: str = "") -> Callable[[Any], dict]:
        """Compile a ``fields`` block into a function building one object.

        Dotted targets are grouped by their first part into nested builders, so
        ``location.latitude`` and ``location.longitude`` build one ``location`` object.
        """
        tree: dict[str, Any] = {}
        for target, spec in fields.items():
            path = target.split(".")
            full = f"{where}.{target}" if where else target
            node = tree
            for part in path[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):  # "name: x" and "name.de: y" together
                    child = node[part] = {"": child}
                node = child
            fn = self.value_fn(spec, full)
            if isinstance(node.get(path[-1]), dict):
                node[path[-1]][""] = fn
            else:
                node[path[-1]] = fn
        language = self.context.defaults.get("language", "en")
        return _tree_builder(
            tree, i18n=I18N_FIELDS if not where else frozenset(), language=language
        )


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
                        base = {language: base} if key in i18n_branches else {"": base}
                    value = {**base, **value}
            if value:
                out[key] = value
        return out

    return build


class CompiledMapping:
    """A mapping ready to run: :meth:`external_id` and :meth:`apply` on source records."""

    def __init__(self, doc: MappingDocument, transforms: Mapping[str, Transform]) -> None:
        self.doc = doc
        self.source = doc.source
        self.dmo = doc.dmo
        compiler = MappingCompiler(doc, transforms)
        self._build = compiler.object_fn(doc.doc["fields"])
        defaults = doc.doc.get("defaults", {})
        self._language = defaults.get("language")
        self._country = defaults.get("country")
        self._category = defaults.get("category")
        self._licence = doc.doc.get("licence")
        if "id" in doc.doc:
            id_getter = make_getter(doc.doc["id"])
            self._key_getters: list[Getter] = [id_getter]
            self._id_field = doc.doc["id"]
        else:
            self._key_getters = [make_getter(p) for p in doc.doc["key"]]
            self._id_field = "key(" + ", ".join(doc.doc["key"]) + ")"

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

    def apply(self, payload: Any, external_id: str | None = None) -> dict[str, Any]:
        """Map one source record; raise :class:`RecordError` naming the field at fault."""
        if external_id is None:
            external_id = self.external_id(payload)
        if external_id is None:
            raise RecordError(self.source, None, self._id_field, "the record has no id")
        try:
            body = self._build(payload)
        except _FieldFailure as failure:
            raise RecordError(self.source, external_id, failure.field, failure.message) from None
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
        if self._country:
            location = record.setdefault("location", {})
            location.setdefault("country", self._country)
        if self._licence and "licence" not in record:
            record["licence"] = dict(self._licence)
        return record
