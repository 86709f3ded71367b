#!/usr/bin/env python3
"""Validates HSDS 3.0 JSON against the official schemas (../shared/hsds/schema).

  validate.py [--schema-dir DIR] compiled VIEW FILE
      FILE: one object or a JSON array of objects; each is validated against
      schema/compiled/VIEW.json (VIEW: organization, service, organization_list,
      service_list, service_at_location_list) or, for VIEW service_at_location,
      schema/service_at_location.json.
  validate.py [--schema-dir DIR] object NAME FILE
      the same against schema/NAME.json (an object schema: phone, taxonomy_term, ...).
  validate.py [--schema-dir DIR] api PATH FILE
      FILE: the body of a 200 response of `GET PATH`, PATH as openapi.json names it
      ("/services", "/services/{id}", "/", ...), validated against that response's schema.

Prints one line per error (`FILE: item N: json.path: message`) and a summary; exits 0 when
there is no error, 1 when there are errors, 2 on bad usage or unreadable files, 3 when the
`jsonschema` module is missing. The official files' `$ref`s (relative file names, and the
openapi's https://raw.githubusercontent.com/openreferral/specification/3.0/schema/... URLs)
are resolved from the local copies; nothing is fetched. Works with Debian's
python3-jsonschema 4.10 and with current releases.

Upstream note: openapi.json gives `GET /service_at_locations/{id}` the schema of a compiled
*service* (compiled/service.json, which requires `name` and `status`); the official example
examples/service_at_location_full.json does not satisfy it. This tool checks that operation
against schema/service_at_location.json instead and says so.
"""
import json
import os
import sys
import warnings

OFFICIAL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"

try:
    import jsonschema
except ImportError:
    print("validate.py: the Python module 'jsonschema' is missing: install the Debian package "
          "python3-jsonschema (apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(3)

warnings.simplefilter("ignore", DeprecationWarning)


def default_schema_dir():
    if os.environ.get("SB_HSDS_DIR"):
        return os.path.join(os.environ["SB_HSDS_DIR"], "schema")
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "hsds", "schema"))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Schemas:
    def __init__(self, schema_dir):
        self.dir = schema_dir
        self.store = {}
        for sub in ("", "compiled/"):
            folder = os.path.join(schema_dir, sub)
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".json"):
                    continue
                doc = load(os.path.join(folder, name))
                self.store[OFFICIAL + sub + name] = doc
                self.store["file://" + os.path.join(os.path.abspath(folder), name)] = doc

    def validator(self, rel):
        """A validator for schema/`rel` (or a fragment of openapi.json, see api_validator)."""
        doc = self.store[OFFICIAL + rel]
        return self._make(doc, OFFICIAL + rel)

    def _make(self, schema, base):
        cls = getattr(jsonschema, "Draft202012Validator", None) or jsonschema.Draft7Validator
        resolver = jsonschema.RefResolver(base_uri=base, referrer=self.store[base.split("#")[0]],
                                          store=dict(self.store))
        return cls(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())

    def api_validator(self, path):
        api = self.store[OFFICIAL + "openapi.json"]
        if path == "/service_at_locations/{id}":
            print("validate.py: note: openapi.json gives GET /service_at_locations/{id} the "
                  "compiled service schema (an upstream error); checking against "
                  "service_at_location.json", file=sys.stderr)
            return self.validator("service_at_location.json")
        try:
            schema = api["paths"][path]["get"]["responses"]["200"]["content"][
                "application/json"]["schema"]
        except KeyError:
            raise SystemExit("validate.py: openapi.json has no GET %s with a JSON 200 response"
                             % path)
        return self._make(schema, OFFICIAL + "openapi.json")


def path_of(error):
    p = "$"
    for part in error.absolute_path:
        p += "[%d]" % part if isinstance(part, int) else "." + str(part)
    return p


def check(validator, items, label):
    errors = 0
    for i, item in enumerate(items):
        for e in sorted(validator.iter_errors(item), key=lambda e: list(map(str, e.path))):
            errors += 1
            where = "%s: item %d: " % (label, i) if len(items) > 1 else "%s: " % label
            print(where + path_of(e) + ": " + e.message[:300])
    return errors


def main(argv):
    args = list(argv)
    schema_dir = default_schema_dir()
    if len(args) >= 2 and args[0] == "--schema-dir":
        schema_dir = args[1]
        args = args[2:]
    if len(args) != 3 or args[0] not in ("compiled", "object", "api"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, name, file = args
    if not os.path.isdir(schema_dir):
        print("validate.py: no schema folder %s (set SB_HSDS_DIR to the folder holding "
              "schema/)" % schema_dir, file=sys.stderr)
        return 2
    schemas = Schemas(schema_dir)
    try:
        doc = load(file)
    except (OSError, ValueError) as e:
        print("validate.py: cannot read %s: %s" % (file, e), file=sys.stderr)
        return 2
    if mode == "api":
        validator = schemas.api_validator(name)
        items = [doc]
    else:
        if mode == "compiled" and name == "service_at_location":
            rel = "service_at_location.json"
        else:
            rel = ("compiled/" if mode == "compiled" else "") + name + ".json"
        if OFFICIAL + rel not in schemas.store:
            print("validate.py: no schema %s in %s" % (rel, schema_dir), file=sys.stderr)
            return 2
        validator = schemas.validator(rel)
        items = doc if isinstance(doc, list) else [doc]
    errors = check(validator, items, file)
    print("%s: %d object(s), %d error(s)" % (file, len(items), errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
