"""A fast path for loading event data with its marshmallow schema (checking each
event's contract was most of the cost of closing a year and of an import).

``load(schema, value)`` gives exactly what ``schema.load(value)`` gives. Each schema is
compiled once into plain closures, one per field, that accept only what is plainly valid
(the exact JSON type, every validator of the field and every ``validates_schema`` of the
schema passing). Anything else (a missing or unknown field, a null, a wrong type, a failed
check) is handed to marshmallow itself, which refuses it with its usual messages or accepts
it: the fast path can only say yes, never no. A schema using a feature not compiled here
(pre/post_load hooks, data_key, many, another field type) always goes to marshmallow.
"""
import re
import uuid
from datetime import datetime

from marshmallow import ValidationError, fields, missing


class _Slow(Exception):
    """The fast path cannot vouch for this value: ask marshmallow."""


class _Unsupported(Exception):
    """A schema feature not compiled here: this schema always goes to marshmallow."""


_COMPILED = {}
# leaf fields whose own _deserialize is called as is (ours: the Strict* of events.py)
_GENERIC = {"StrictBoolean", "StrictFloat", "StrictDate", "AwareDateTime", "NaiveDateTime",
            "DateTime", "Date"}
_LOAD_HOOKS_OK = {"validates_schema", "pre_dump", "post_dump"}


def load(schema, value):
    """``schema.load(value)``, without marshmallow's machinery when ``value`` is plainly
    valid."""
    key = id(schema)
    check = _COMPILED.get(key)
    if check is None:
        try:
            check = _compile(schema)
        except _Unsupported:
            check = False
        _COMPILED[key] = check
        _KEEP.append(schema)  # the id stays this schema's: it is never collected
    if check:
        try:
            return check(value)
        except _Slow:
            pass
    return schema.load(value)


_KEEP = []


def _compile(schema):
    if schema.many or schema.only or schema.exclude or schema.partial or \
            schema.unknown != "raise":
        raise _Unsupported
    hooks = schema._hooks
    if any(entries for name, entries in hooks.items() if name not in _LOAD_HOOKS_OK):
        raise _Unsupported
    validators = []
    for attr, many, options in hooks.get("validates_schema", ()):
        if many or options.get("pass_original"):
            raise _Unsupported
        validators.append(getattr(schema, attr))
    loaders = []
    for name, field in schema.load_fields.items():
        if field.data_key not in (None, name) or field.attribute not in (None, name):
            raise _Unsupported
        loaders.append((name, _field(field), field.required, field.load_default))
    names = frozenset(name for name, *_ in loaders)

    def check(value):
        if type(value) is not dict or not names.issuperset(value):
            raise _Slow
        out = {}
        for name, load_field, required, default in loaders:
            if name in value:
                out[name] = load_field(value[name])
            elif required:
                raise _Slow
            elif default is not missing:
                out[name] = default() if callable(default) else default
        for validator in validators:
            try:
                validator(out, partial=None, many=False, unknown="raise")
            except ValidationError:
                raise _Slow from None
        return out
    return check


_CANONICAL_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def _uuid(text, _new=object.__new__, _set=object.__setattr__, _unknown=uuid.SafeUUID.unknown):
    """``uuid.UUID(text)`` (marshmallow's UUID field), built directly from the canonical
    form every producer writes (in half the time); any other form goes through UUID."""
    if _CANONICAL_UUID(text) is None:
        try:
            return uuid.UUID(text)
        except ValueError:
            raise _Slow from None
    value = _new(uuid.UUID)
    _set(value, "int", int(text.replace("-", ""), 16))
    _set(value, "is_safe", _unknown)
    return value


def _field(field):
    """A closure loading one value of ``field`` (raising _Slow unless plainly valid)."""
    kind = type(field)
    if kind is fields.String:
        def convert(v):
            if type(v) is not str:
                raise _Slow
            return v
    elif kind is fields.Integer:
        def convert(v):
            if type(v) is not int:
                raise _Slow
            return v
    elif kind is fields.UUID:
        def convert(v):
            if type(v) is not str:
                raise _Slow
            return _uuid(v)
    elif kind is fields.List:
        inner = _field(field.inner)

        def convert(v):
            if type(v) is not list:
                raise _Slow
            return [inner(x) for x in v]
    elif kind is fields.Nested:
        if field.many or field.unknown is not None or field.only or field.exclude:
            raise _Unsupported
        nested = field.schema
        nested_check = _compile(nested)
        _KEEP.append(nested)
        convert = nested_check
    elif kind is fields.Dict and field.key_field is None and field.value_field is None:
        def convert(v):
            if type(v) is not dict:
                raise _Slow
            return dict(v)
    elif kind is fields.AwareDateTime and field.format in (None, "iso", "iso8601") and \
            field.default_timezone is None:
        def convert(v):  # what marshmallow does: fromisoformat, then an offset required
            if type(v) is not str:
                raise _Slow
            try:
                out = datetime.fromisoformat(v)
            except ValueError:
                raise _Slow from None
            if out.tzinfo is None or out.utcoffset() is None:
                raise _Slow
            return out
    elif kind.__name__ in _GENERIC:
        def convert(v):
            try:
                return field._deserialize(v, None, None)
            except (ValidationError, TypeError, ValueError):
                raise _Slow from None
    else:
        raise _Unsupported
    checks = tuple(field.validators)
    allow_none = field.allow_none

    def load_field(v):
        if v is None:
            if allow_none:
                return None
            raise _Slow
        out = convert(v)
        for validator in checks:
            try:
                if validator(out) is False:
                    raise _Slow
            except ValidationError:
                raise _Slow from None
        return out
    return load_field
