"""The shape of an imported record, checked with jsonschema: the HSDS 3.0 schemas (vendored in
schemas/hsds-3.0, with their licence) for the standard fields, and Dalil's extension (schemas/x-dalil.json) for
the x-dalil object. A failure names the record and the field as every other import error does.

HSDS's ``required`` lists are not applied (schemas/hsds-3.0/README.md says why): records.py names what Dalil
needs. A ``null`` counts as absent, as it does when the record is read.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).parent / "schemas"
EXT = "x-dalil"
# a record kind -> its HSDS schema and the x-dalil definitions of it and of its schedules
RECORDS = {"organization": ("organization.json", "organization", None),
           "service": ("service.json", "service", "schedule"),
           "location": ("location.json", "location", "schedule")}
# records nested in another are checked on their own, under their own name ("services[0] > organization")
NESTED = {"organization": (), "service": ("organization",), "location": ()}
TYPE_NAMES = {"string": "a string", "number": "a number", "integer": "an integer", "object": "an object",
              "array": "an array", "boolean": "true or false", "null": "null"}


class ShapeError(ValueError):
    """A record whose shape is not HSDS's or Dalil's extension's: ``field`` is its path, ``problem`` what is
    wrong (records.py adds the record's name)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def _without_required(node):
    """HSDS's schema minus its ``required`` lists."""
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@functools.cache
def _validators() -> dict[str, Draft202012Validator]:
    resources = [(path.name, Resource.from_contents(_without_required(json.loads(path.read_text(encoding="utf-8"))),
                                                    default_specification=DRAFT202012))
                 for path in sorted((SCHEMAS / "hsds-3.0").glob("*.json"))]
    extension = json.loads((SCHEMAS / "x-dalil.json").read_text(encoding="utf-8"))
    registry = Registry().with_resources([*resources, ("x-dalil.json", DRAFT202012.create_resource(extension))])
    validators = {}
    for kind, (hsds, own, schedule) in RECORDS.items():
        properties = {EXT: {"$ref": f"x-dalil.json#/$defs/{own}"}}
        if schedule:
            properties["schedules"] = {"items": {"properties": {EXT: {"$ref": f"x-dalil.json#/$defs/{schedule}"}}}}
        validators[kind] = Draft202012Validator({"allOf": [{"$ref": hsds}], "properties": properties},
                                                registry=registry)
    return validators


def _absent_nulls(value):
    if isinstance(value, dict):
        return {k: _absent_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_absent_nulls(v) for v in value]
    return value


def _shallow(kind: str, record: dict) -> dict:
    """The record without the records nested in it, which are checked on their own."""
    record = {k: v for k, v in record.items() if k not in NESTED[kind]}
    if kind == "service" and isinstance(record.get("service_at_locations"), list):
        record["service_at_locations"] = [{k: v for k, v in link.items() if k != "location"}
                                          if isinstance(link, dict) else link
                                          for link in record["service_at_locations"]]
    return record


def field_name(path) -> str:
    """["phones", 0, "number"] -> "phones[0].number"."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(record)"


def _problem(error: ValidationError) -> str:
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"expected {' or '.join(TYPE_NAMES.get(t, t) for t in expected)}, got {error.instance!r}"
    if error.validator == "enum":
        return f"expected one of {', '.join(map(str, error.validator_value))}, got {error.instance!r}"
    return error.message


def check(kind: str, record) -> None:
    """Raise ShapeError for the most relevant way ``record`` departs from its schema, if any."""
    if not isinstance(record, dict):
        raise ShapeError("(record)", "expected an object")
    error = best_match(_validators()[kind].iter_errors(_absent_nulls(_shallow(kind, record))))
    if error is not None:
        raise ShapeError(field_name(error.absolute_path), _problem(error))
