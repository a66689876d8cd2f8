"""A decoder compiled for one dataclass: the general one's checks unrolled, for the common case.

Replaying a stream decodes every stored event into its class, so the general dataclass decoder
(:func:`evsh.domain.types.decoder`: a loop over the fields, a dict of keyword arguments, a call
of the class with them) is the largest cost of a load. For a JSON object holding exactly the
class's fields, the function generated here does the same checks in the same order, field by
field, with the same paths. Anything else (a missing or unknown field, not an object) is passed
to the general decoder, so every error is the one it raises.

Where calling the class would only store the fields (its ``__init__`` is the one ``dataclass``
wrote, with no ``__post_init__``, slots, custom ``__new__`` or ``__setattr__``, or data descriptor
in the way), the instance is built directly: the same attributes in the same order, without a
second Python call per event.
"""

from __future__ import annotations

import dataclasses
import inspect
import keyword
from typing import Any, Callable, Sequence

Decoder = Callable[[Any, str], Any]
# (field name, a type checked inline or None, the field's decoder, required)
FieldSpec = tuple[str, Any, Decoder, bool]


@dataclasses.dataclass
class _Probe:
    x: int


_WRITTEN_BY_DATACLASS = _Probe.__init__.__code__.co_filename


def init_written_by_dataclass(cls: type) -> bool:
    """True when the class's ``__init__`` is the one ``dataclass`` wrote for it: its parameters
    are the init fields, in order (a hand-written one may take them in any order)."""
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    return code is not None and code.co_filename == _WRITTEN_BY_DATACLASS and \
        init.__qualname__ == f"{cls.__qualname__}.__init__"


def builds_directly(cls: type) -> bool:
    """True when ``cls(**fields)`` does nothing but store each field, in order, on a new instance."""
    if not init_written_by_dataclass(cls):
        return False
    if cls.__new__ is not object.__new__ or hasattr(cls, "__post_init__"):
        return False
    if any("__slots__" in vars(klass) for klass in cls.__mro__[:-1]):
        return False
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not (params.frozen or cls.__setattr__ is object.__setattr__):
        return False  # a non-frozen dataclass's __init__ assigns through a custom __setattr__
    declared = cls.__dict__.get("__dataclass_fields__", {})
    fields = dataclasses.fields(cls)
    if len(declared) != len(fields) or not all(f.init for f in fields):
        return False  # InitVars, ClassVars or fields set by __init__ without a parameter
    for f in fields:
        attr = inspect.getattr_static(cls, f.name, None)
        if hasattr(type(attr), "__set__"):
            return False
    return True


def compile_decoder(cls: type, specs: Sequence[FieldSpec], general: Decoder) -> Decoder | None:
    """A decoder of ``cls`` equal to ``general`` (the same values, the same errors), or None when
    the class's fields cannot be written as Python names."""
    names = [name for name, *_ in specs]
    if not names or not all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    env: dict[str, Any] = {"cls": cls, "general": general, "new": object.__new__, "KeyError": KeyError,
                           "dict": dict, "len": len, "type": type}
    lines = ["def decode(v, p):",
             f"    if type(v) is dict and len(v) == {len(specs)}:",
             "        try:"]
    lines += [f"            a{i} = v[{name!r}]" for i, name in enumerate(names)]
    lines += ["        except KeyError:",
              "            return general(v, p)"]
    for i, (name, plain, dec, _required) in enumerate(specs):
        env[f"d{i}"] = dec
        path = f"(p + {'.' + name!r} if p else {name!r})"
        if plain is not None:
            env[f"t{i}"] = plain
            lines.append(f"        if type(a{i}) is not t{i}:")
            lines.append(f"            a{i} = d{i}(a{i}, {path})")
        else:
            lines.append(f"        a{i} = d{i}(a{i}, {path})")
    if builds_directly(cls):
        lines += ["        o = new(cls)", "        d = o.__dict__"]
        lines += [f"        d[{name!r}] = a{i}" for i, name in enumerate(names)]
        lines.append("        return o")
    else:  # by position where the parameters are known to be the fields in order (it is faster)
        by_position = init_written_by_dataclass(cls)
        args = [f"a{i}" if by_position and not getattr(fields[name], "kw_only", False) else f"{name}=a{i}"
                for i, name in enumerate(names)]
        lines.append(f"        return cls({', '.join([a for a in args if '=' not in a] + [a for a in args if '=' in a])})")
    lines.append("    return general(v, p)")
    exec(compile("\n".join(lines), f"<evsh decoder of {cls.__qualname__}>", "exec"), env)
    fn = env["decode"]
    fn.__qualname__ = f"decode_{cls.__qualname__}"
    fn.general = general  # what it must equal (tests compare the two)
    return fn
