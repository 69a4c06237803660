"""A scenario file's mistakes as one line each: the key, what was expected, what was given.

pydantic's own messages name its types (``int_parsing``); a user fixing a
TOML file needs the key and the fix, and for an unknown key, the near one.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from leakbench.errors import did_you_mean

_EXPECTED = {
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_type": "expected a string",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "bool_type": "expected true or false",
    "extra_forbidden": "unknown key",
    "missing": "missing; this key is required",
    "string_too_short": "expected a non-empty string",
    "string_pattern_mismatch": "expected letters, digits or _ only",
}


def one_line(err: ValidationError, model: type[BaseModel]) -> str:
    """The first mistake, as a user fixing the file needs it: the key, what was expected, what was given."""
    errors = err.errors(include_url=False)
    # An unknown key first: ``iteration = 50`` also leaves ``iterations`` missing, and the typo is the fix.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    key = ".".join(str(part) for part in first["loc"])
    kind, ctx, value = first["type"], first.get("ctx", {}), first.get("input")
    if kind == "value_error":
        text = str(ctx.get("error", first["msg"]))
        return text if not key else f"{key}: {text}, got {value!r}"
    if kind in ("greater_than", "greater_than_equal"):
        bound = ctx.get("gt", ctx.get("ge"))
        word = "above" if kind == "greater_than" else "of at least"
        noun = "a whole number" if isinstance(value, int) else "a number"
        what = f"expected {noun} {word} {bound}"
    elif kind == "literal_error":
        what = f"expected one of {ctx.get('expected')}"
    else:
        what = _EXPECTED.get(kind, first["msg"])
    if kind == "extra_forbidden":
        return f"{key}: {what}{did_you_mean(str(first['loc'][-1]), _keys_at(first['loc'], model))}"
    if kind == "missing":
        return f"{key}: {what}"
    return f"{key}: {what}, got {value!r}"


def _keys_at(loc: tuple[Any, ...], scenario: type[BaseModel]) -> list[str]:
    """The keys the section holding ``loc`` takes: ``("serve", "sizee")`` -> Serve's fields."""
    model: Any = scenario
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        model = next(
            (t for t in (annotation, *get_args(annotation)) if isinstance(t, type) and issubclass(t, BaseModel)), None
        )
        if model is None:
            return []
    return [name for name, field in model.model_fields.items() if not field.exclude]
