"""Strict checker for OpenMeter SDK (1.0.0b236) responses.

The SDK deserializes leniently: a missing required field reads as None, an unknown enum value or a
malformed datetime comes back as a raw string, and unions come back as plain dicts. ``check`` walks a
wire JSON value against the SDK's model and returns the problems (an empty list when it is fine):
required fields, enum values, RFC 3339 datetimes and union discriminators.

``type_name`` is a model name from ``openmeter.models`` (``"Invoice"``, ``"BillingProfile"``,
``"InvoicePaginatedResponse"``, ...) or ``"App"`` for the app union.
"""

from __future__ import annotations

import enum
import inspect
import re
import typing
from typing import Any

import openmeter.models as M
from openmeter._generated import _unions as U
from openmeter._generated._utils.model_base import Model, _deserialize_datetime, _RestField

# required-but-nullable (``Required[Optional[...]]`` in openmeter/_generated/types.py): the key must be there
NULLABLE = {("InvoiceUsageBasedRateCard", "price"), ("PriceTier", "flatPrice"), ("PriceTier", "unitPrice")}
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _fields(cls: type) -> dict[str, tuple[_RestField, Any]]:
    out: dict[str, tuple[_RestField, Any]] = {}
    for c in reversed(cls.__mro__):
        if isinstance(c, type) and issubclass(c, Model) and c is not Model:
            ann = inspect.get_annotations(c)
            for k, v in c.__dict__.items():
                if isinstance(v, _RestField):
                    out[k] = (v, ann.get(k, out.get(k, (None, None))[1]))
    return out


def _resolve(t: Any) -> Any:
    if isinstance(t, typing.ForwardRef):
        t = t.__forward_arg__
    if isinstance(t, str):
        name = t.split(".")[-1].strip("\"'")
        return getattr(M, name, None) or getattr(U, name, None) or name
    return t


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Model)


def _literal(model: type) -> Any:
    lit = _fields(model).get("type")
    if lit and typing.get_origin(lit[1]) is typing.Literal:
        value = typing.get_args(lit[1])[0]
        return getattr(value, "value", value)
    return None


def _union(args: tuple[Any, ...], v: Any, path: str, errs: list[str]) -> None:
    resolved = [_resolve(a) for a in args]
    models = [m for m in resolved if _is_model(m)]
    enums = [a for a in resolved if isinstance(a, type) and issubclass(a, enum.Enum)]
    if models:
        if not isinstance(v, dict):
            errs.append(f"{path}: expected object")
            return
        for m in models:
            if _literal(m) is not None and v.get("type") == _literal(m):
                _check(m, v, path, errs)
                return
        if len(models) == 1:
            _check(models[0], v, path, errs)
        elif all("type" in _fields(m) for m in models):
            errs.append(f"{path}.type: {v.get('type')!r} matches no union member")
        else:  # e.g. BillingProfileAppsOrReference: fine when any member validates
            found = []
            for m in models:
                sub: list[str] = []
                _check(m, v, path, sub)
                found.append(sub)
            if all(found):
                errs.extend(min(found, key=len))
    elif enums:
        allowed = [e.value for e in enums[0]]
        if v not in allowed:
            errs.append(f"{path}: {v!r} not in {allowed}")
    elif str in args and not isinstance(v, str):
        errs.append(f"{path}: expected string")


def _model(t: type, v: Any, path: str, errs: list[str]) -> None:
    if not isinstance(v, dict):
        errs.append(f"{path}: expected object")
        return
    for attr, (rf, ann) in _fields(t).items():
        name = rf._rest_name_input or attr
        s = str(ann)
        required = not (s.startswith("typing.Optional") or "NoneType" in s)
        readable = rf._visibility is None or "read" in rf._visibility
        if v.get(name) is None:
            nullable_ok = name in v and (t.__name__, name) in NULLABLE
            if required and readable and not nullable_ok:
                errs.append(f"{path}.{name}: required")
            continue
        if rf._format == "rfc3339":
            value = v[name]
            try:
                if not isinstance(value, str) or not RFC3339.match(value):
                    raise ValueError(value)
                _deserialize_datetime(value)
            except Exception:
                errs.append(f"{path}.{name}: bad RFC 3339 datetime {value!r}")
            continue
        _check(ann, v[name], f"{path}.{name}", errs)


def _check(t: Any, v: Any, path: str, errs: list[str]) -> None:
    t = _resolve(t)
    if v is None:
        return
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Union:
        args = tuple(a for a in args if a is not type(None))
        if len(args) == 1:
            _check(args[0], v, path, errs)
        else:
            _union(args, v, path, errs)
    elif origin is typing.Literal:
        want = getattr(args[0], "value", args[0])
        if v != want:
            errs.append(f"{path}: expected {want!r}, got {v!r}")
    elif origin in (list, typing.List):  # noqa: UP006 - the generated annotations use typing.List
        if not isinstance(v, list):
            errs.append(f"{path}: expected array")
            return
        for i, x in enumerate(v):
            _check(args[0], x, f"{path}[{i}]", errs)
    elif origin is dict:
        if not isinstance(v, dict):
            errs.append(f"{path}: expected object")
    elif _is_model(t):
        _model(t, v, path, errs)
    elif t is str and not isinstance(v, str):
        errs.append(f"{path}: expected string, got {type(v).__name__}")
    elif t is bool and not isinstance(v, bool):
        errs.append(f"{path}: expected bool")
    elif t is int and (not isinstance(v, int) or isinstance(v, bool)):
        errs.append(f"{path}: expected integer")
    elif t is float and (not isinstance(v, int | float) or isinstance(v, bool)):
        errs.append(f"{path}: expected number")


def check(type_name: str, data: Any) -> list[str]:
    """Problems with ``data`` as the SDK's ``type_name``; ``[]`` when a typed client can rely on it."""
    errs: list[str] = []
    _check(type_name, data, "$", errs)
    return errs
