"""Values by their type hints: JSON values <-> typed values, and command-line text -> typed values.

One place for every conversion, so events, command parameters, state output and the forms of
the shell and the TUI agree. Decimals travel as strings, so they come back exact.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from ..errors import BadInput, DomainError
from .constructors import compile_decoder

Decoder = Callable[[Any, str], Any]
_cache: dict[Any, Decoder] = {}


def _fail(path: str, expected: str, value: Any) -> typing.NoReturn:
    got = type(value).__name__ if value is not None else "null"
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    raise BadInput(f"{path}: expected {expected}, got {got} {shown}")


def _encodable(text: str) -> bool:
    """False for text holding a lone surrogate (what Python makes of bytes that are not UTF-8 in
    command-line arguments): it cannot be stored, so it is refused where values come in."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe(hint: Any) -> str:
    """A short human name of a type hint, for --help and error messages."""
    if hint is Any:
        return "any"
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return "|".join(str(m.value) for m in hint)
        return hint.__name__
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [describe(a) for a in args if a is not type(None)]
        return " | ".join(named) + (" or null" if len(named) < len(args) else "")
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        inner = ", ".join("..." if a is Ellipsis else describe(a) for a in args)
        return f"{name}[{inner}]" if args else name
    return str(hint)


def structures(hint: Any, seen: dict[type, None] | None = None) -> dict[type, None]:
    """The dataclasses a value of ``hint`` is made of (inside lists, dicts, optionals, and each
    other), in the order met: what a user needs to know to write its JSON."""
    seen = {} if seen is None else seen
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint not in seen:
            seen[hint] = None
            for f, h in typing.get_type_hints(hint).items():
                structures(h, seen)
        return seen
    for arg in typing.get_args(hint):
        if arg is not Ellipsis:
            structures(arg, seen)
    return seen


def describe_fields(cls: type) -> str:
    """``Item: product_id (str), quantity (int), unit_price (Decimal)``."""
    hints = typing.get_type_hints(cls)
    return f"{cls.__name__}: " + ", ".join(f"{f.name} ({describe(hints.get(f.name, Any))})"
                                           for f in dataclasses.fields(cls))


def decoder(hint: Any) -> Decoder:
    """A function turning a JSON value into a value of ``hint``, raising BadInput with a path."""
    try:
        return _cache[hint]
    except (KeyError, TypeError):
        pass
    fn = _build(hint)
    try:
        _cache[hint] = fn
    except TypeError:
        pass
    return fn


def _build(hint: Any) -> Decoder:
    if hint is Any or hint is object:
        return lambda v, p: v
    if hint is str:
        def dec_str(v: Any, p: str) -> str:
            if type(v) is str:
                if v.isascii() or _encodable(v):
                    return v
                _fail(p, "valid Unicode text (it holds a lone surrogate: bytes that are not UTF-8?)", v)
            _fail(p, "a string", v)
        return dec_str
    if hint is bool:
        def dec_bool(v: Any, p: str) -> bool:
            if type(v) is bool:
                return v
            _fail(p, "true or false", v)
        return dec_bool
    if hint is int:
        def dec_int(v: Any, p: str) -> int:
            if type(v) is int:
                return v
            _fail(p, "an integer", v)
        return dec_int
    if hint is float:
        def dec_float(v: Any, p: str) -> float:
            if type(v) in (float, int):
                return float(v)
            _fail(p, "a number", v)
        return dec_float
    if hint is Decimal:
        def dec_decimal(v: Any, p: str) -> Decimal:
            t = type(v)
            if t is Decimal:
                return v
            if t is str or t is int or t is float:
                try:
                    d = Decimal(str(v))
                except InvalidOperation:
                    _fail(p, "a decimal number", v)
                if not d.is_finite():
                    _fail(p, "a finite decimal number", v)
                return d
            _fail(p, "a decimal number", v)
        return dec_decimal
    if hint in (_dt.datetime, _dt.date):
        def dec_time(v: Any, p: str, _h=hint) -> Any:
            if isinstance(v, _h):
                return v
            if isinstance(v, str):
                try:
                    return _h.fromisoformat(v.replace("Z", "+00:00") if _h is _dt.datetime else v)
                except ValueError:
                    pass
            _fail(p, f"an ISO {_h.__name__}", v)
        return dec_time
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        by_value = {m.value: m for m in hint}
        by_name = {m.name: m for m in hint}

        def dec_enum(v: Any, p: str, _h=hint) -> Any:
            if isinstance(v, _h):
                return v
            try:
                if v in by_value:
                    return by_value[v]
                if v in by_name:
                    return by_name[v]
            except TypeError:
                pass
            _fail(p, "one of " + ", ".join(repr(k) for k in by_value), v)
        return dec_enum
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass_decoder(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        decs = [decoder(a) for a in args if a is not type(None)]
        optional = type(None) in args

        def dec_union(v: Any, p: str) -> Any:
            if v is None and optional:
                return None
            for d in decs:
                try:
                    return d(v, p)
                except BadInput:
                    continue
            _fail(p, describe(hint), v)
        return dec_union
    if origin is typing.Literal:
        allowed = args

        def dec_literal(v: Any, p: str) -> Any:
            if v in allowed:
                return v
            _fail(p, "one of " + ", ".join(repr(a) for a in allowed), v)
        return dec_literal
    if origin in (list, tuple, set, frozenset, typing.Sequence, typing.List):
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            decs = [decoder(a) for a in args]

            def dec_fixed_tuple(v: Any, p: str) -> tuple:
                if not isinstance(v, (list, tuple)) or len(v) != len(decs):
                    _fail(p, f"a list of {len(decs)} items", v)
                return tuple(d(x, f"{p}[{i}]") for i, (d, x) in enumerate(zip(decs, v)))
            return dec_fixed_tuple
        item = decoder(args[0]) if args else decoder(Any)
        build = tuple if origin is tuple else (set if origin is set else (frozenset if origin is frozenset else list))

        def dec_seq(v: Any, p: str) -> Any:
            if not isinstance(v, (list, tuple)):
                _fail(p, "a list", v)
            return build(item(x, f"{p}[{i}]") for i, x in enumerate(v))
        return dec_seq
    if origin in (dict, typing.Mapping, typing.Dict):
        key = decoder(args[0]) if args else decoder(str)
        val = decoder(args[1]) if len(args) > 1 else decoder(Any)

        def dec_dict(v: Any, p: str) -> dict:
            if not isinstance(v, dict):
                _fail(p, "an object", v)
            return {key(k, f"{p} key"): val(x, f"{p}.{k}") for k, x in v.items()}
        return dec_dict
    if hint is list:
        return decoder(list[Any])
    if hint is dict:
        return decoder(dict[str, Any])
    raise DomainError(f"evsh cannot convert values of type {describe(hint)}; use str, int, bool, Decimal, enums, lists, dicts or dataclasses")


def field_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except NameError as exc:
        raise DomainError(f"{cls.__name__}: cannot resolve a type hint ({exc})") from None


def _dataclass_decoder(cls: type) -> Decoder:
    hints = field_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    specs = []
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        hint = hints.get(f.name, Any)
        # str/int/bool fields are checked inline: replaying a long stream decodes every event
        plain = hint if hint in (str, int, bool) else None
        specs.append((f.name, plain, decoder(hint), required))
    names = {f.name for f in fields}
    all_required = all(required for *_, required in specs)
    path_cache: dict[str, list[str]] = {}

    def dec_dataclass(v: Any, p: str) -> Any:
        if type(v) is not dict:
            if isinstance(v, cls):
                return v
            if not isinstance(v, dict):
                _fail(p, f"an object ({cls.__name__})", v)
        if not (all_required and len(v) == len(specs)):
            extra = v.keys() - names
            if extra:
                raise BadInput(f"{p}: unknown field {sorted(extra)[0]!r} for {cls.__name__}")
        paths = path_cache.get(p)
        if paths is None:
            paths = path_cache.setdefault(p, [f"{p}.{name}" if p else name for name, *_ in specs])
        kwargs = {}
        for (name, plain, dec, required), path in zip(specs, paths):
            try:
                x = v[name]
            except KeyError:
                if required:
                    raise BadInput(f"{path}: missing (required by {cls.__name__})") from None
                continue
            if plain is not None and type(x) is plain:
                kwargs[name] = x
            else:
                kwargs[name] = dec(x, path)
        return cls(**kwargs)
    # an object holding exactly the class's fields (every stored event) takes the compiled path
    return compile_decoder(cls, specs, dec_dataclass) or dec_dataclass


_field_names: dict[type, tuple[str, ...]] = {}  # dataclass -> its field names (fields() is slow)
_AS_IS = frozenset({str, int, bool, float, type(None)})  # what encode returns unchanged


def encode(value: Any) -> Any:
    """A typed value as a JSON value (Decimal -> string, enum -> value, dataclass -> object)."""
    t = type(value)
    if t is str or t is int or t is bool or t is float or value is None:
        return value
    if t is Decimal:
        return str(value)
    # the items that encode to themselves (text, numbers, None: most of them) are kept without a call
    if t is list or t is tuple or t is set or t is frozenset:
        return [x if type(x) in _AS_IS else encode(x) for x in value]
    if t is dict:
        return {(k if type(k) is str else str(k.value if isinstance(k, enum.Enum) else k)):
                (x if type(x) in _AS_IS else encode(x)) for k, x in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    names = _field_names.get(t)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _field_names[t] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(x) for x in value]
    if isinstance(value, dict):
        return {str(k): encode(x) for k, x in value.items()}
    if isinstance(value, (str, int, float)):
        return value
    raise BadInput(f"a {t.__name__} cannot be stored in an event; use str, int, bool, Decimal, lists, dicts or dataclasses")


def from_text(text: str, hint: Any, path: str) -> Any:
    """A command-line value: plain text for strings, numbers and enums; JSON for the rest."""
    from ..store import codec

    base = hint
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in typing.get_args(hint) if a is not type(None)]
        if text in ("null", "none", "") and len(non_none) < len(typing.get_args(hint)):
            return None
        if len(non_none) == 1:
            base = non_none[0]
    if base is str:
        return decoder(str)(text, path)
    if base is bool:
        low = text.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise BadInput(f"{path}: expected true or false, got {text!r}")
    if base is int:
        try:
            return int(text.strip())
        except ValueError:
            raise BadInput(f"{path}: expected an integer, got {text!r}") from None
    if base is float:
        try:
            number = float(text.strip())
        except ValueError:
            raise BadInput(f"{path}: expected a number, got {text!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise BadInput(f"{path}: expected a finite number, got {text!r}")
        return number
    if isinstance(base, type) and issubclass(base, enum.Enum):
        by_text = {str(m.value): m for m in base}  # `--size 2` for an enum of ints
        if text.strip() in by_text:
            return by_text[text.strip()]
    if base is Decimal or base is float or (isinstance(base, type) and issubclass(base, enum.Enum)):
        return decoder(hint)(text.strip(), path)
    if base in (_dt.datetime, _dt.date):
        return decoder(hint)(text.strip(), path)
    if typing.get_origin(base) is typing.Literal and text in typing.get_args(base):
        return text  # `--mode air` for Literal["air", "sea"]
    try:
        value = codec.parse(text)
    except ValueError:
        if base is Any:
            return text
        raise BadInput(f"{path}: expected JSON for {describe(hint)}, got {text!r}") from None
    return decoder(hint)(value, path)
