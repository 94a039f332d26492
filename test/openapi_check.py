#!/usr/bin/env python3
"""Checks recorded answers of the agent against agent/api/openapi.json.

usage: openapi_check.py [--min N] [--coverage] OPENAPI_JSON RECORD_DIR

RECORD_DIR holds *.jsonl files (test/support/test_support.cpp writes them when FUNAI_API_RECORD_DIR is
set), one JSON object a line:
  {"method": "GET", "target": "/agent/apps/status?appId=1", "status": 200,
   "contentType": "application/json", "body": "<raw body text>"}

For each record: the path item (exact match of the path, query stripped and percent-decoded as the
agent does; no templated paths), the operation of the method, the response of the status (an exact
code or a range such as "4XX"; `default` is not taken as documenting a status), then the media
type: a JSON body is parsed and validated against its schema (Draft 2020-12, `#/...` references
resolved in the document); a text body needs a documented media type of the same type/subtype and
is validated as a string. Records of unknown paths or methods (tests send them on purpose) must be
404 or 405 and match components/schemas/Error. HEAD answers carry no body: only their status and
media type are checked.

The document itself must look like OpenAPI 3.1 (openapi "3.1.x", info, paths), every `$ref` in it
must resolve, and every schema must be a valid Draft 2020-12 schema.

Prints one line per failure and a summary
  openapi: N answers checked (M routes, K statuses), F failed
where M counts the documented operations and K the documented (operation, status) pairs the
records exercised. Exits 1 when anything failed or fewer than --min records (default 50) were
found, 0 otherwise. Works with jsonschema 4.10 (RefResolver) and >= 4.18 (referencing registry).
"""
import argparse
import glob
import json
import os
import sys
import warnings
from urllib.parse import quote, unquote

import jsonschema
from jsonschema import Draft202012Validator

try:  # jsonschema >= 4.18: a referencing registry
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    Draft202012Validator({}, registry=Registry())
except (ImportError, TypeError):  # jsonschema 4.10 (Debian 12): RefResolver
    Registry = None

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
GENERIC_ERROR = "#/components/schemas/Error"
BASE_URI = "http://openapi.invalid/openapi.json"  # hierarchical, so "#/..." joins onto it
EXCERPT = 300


def escape(segment):
    return quote(str(segment).replace("~", "~0").replace("/", "~1"), safe="")


def pointer(segments):
    return "/" + "/".join(escape(s) for s in segments) if segments else ""


def resolve_pointer(doc, ref):
    """The value a local `#/...` reference names, or raises KeyError."""
    if not ref.startswith("#"):
        raise KeyError("only local references (#/...) are supported: " + ref)
    frag = unquote(ref[1:])
    if frag == "":
        return doc
    if not frag.startswith("/"):
        raise KeyError("not a JSON pointer: " + ref)
    node = doc
    for raw in frag[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


class Document:
    def __init__(self, doc):
        self.doc = doc
        self.validators = {}
        if Registry is not None:
            self.registry = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(doc))

    def problems(self):
        """What is wrong with the document itself."""
        d = self.doc
        out = []
        if not isinstance(d, dict):
            return ["the document is not a JSON object"]
        if not isinstance(d.get("openapi"), str) or not d["openapi"].startswith("3.1"):
            out.append("openapi is %r, not 3.1.x" % (d.get("openapi"),))
        if not isinstance(d.get("info"), dict) or "title" not in d["info"] or "version" not in d["info"]:
            out.append("info (with title and version) missing")
        if not isinstance(d.get("paths"), dict) or not d["paths"]:
            out.append("paths missing or empty")
        if not isinstance(d.get("components", {}).get("schemas", {}).get("Error"), dict):
            out.append("components/schemas/Error (the generic error) missing")

        def walk(node, where):
            if isinstance(node, dict):
                r = node.get("$ref")
                if isinstance(r, str):
                    try:
                        resolve_pointer(d, r)
                    except KeyError:
                        out.append("unresolved $ref %s at %s" % (r, pointer(where) or "/"))
                elif "$ref" in node and not (where and where[-1] == "properties"):
                    out.append("$ref that is not a string at %s" % pointer(where))
                for k, v in node.items():
                    walk(v, where + [k])
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, where + [i])

        walk(d, [])
        if out:
            return out
        for where in self.schema_locations():
            try:
                Draft202012Validator.check_schema(resolve_pointer(d, "#" + pointer(where)))
            except jsonschema.SchemaError as e:
                out.append("invalid schema at %s: %s" % (pointer(where), e.message))
        return out

    def schema_locations(self):
        d = self.doc
        for name in d.get("components", {}).get("schemas", {}):
            yield ["components", "schemas", name]
        containers = [(["components", "responses", n], r) for n, r in d.get("components", {}).get("responses", {}).items()]
        for p, item in d.get("paths", {}).items():
            for m in METHODS:
                o = item.get(m) if isinstance(item, dict) else None
                if not isinstance(o, dict):
                    continue
                for s, r in o.get("responses", {}).items():
                    containers.append((["paths", p, m, "responses", s], r))
                for i, prm in enumerate(o.get("parameters", [])):
                    if isinstance(prm, dict) and "schema" in prm:
                        yield ["paths", p, m, "parameters", i, "schema"]
                rb = o.get("requestBody", {})
                for mt, media in rb.get("content", {}).items() if isinstance(rb, dict) else []:
                    if "schema" in media:
                        yield ["paths", p, m, "requestBody", "content", mt, "schema"]
        for where, r in containers:
            if not isinstance(r, dict) or "$ref" in r:
                continue
            for mt, media in r.get("content", {}).items():
                if isinstance(media, dict) and "schema" in media:
                    yield where + ["content", mt, "schema"]

    def deref(self, node, where):
        """Follows an OpenAPI-level $ref (path item, response): the object and its location."""
        seen = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            r = node["$ref"]
            if r in seen:
                raise KeyError("reference loop at " + r)
            seen.add(r)
            node = resolve_pointer(self.doc, r)
            where = [s.replace("~1", "/").replace("~0", "~") for s in unquote(r[1:]).split("/")[1:]]
        return node, where

    def validator(self, ref):
        """A validator of the schema a `#/...` reference names, its own references resolved in the document."""
        v = self.validators.get(ref)
        if v is None:
            if Registry is not None:
                v = Draft202012Validator({"$ref": BASE_URI + ref}, registry=self.registry)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    v = Draft202012Validator({"$ref": ref}, resolver=jsonschema.RefResolver("", self.doc))
            self.validators[ref] = v
        return v

    def validate(self, ref, value):
        """None when value matches, else a one-line message."""
        errors = list(self.validator(ref).iter_errors(value))
        if not errors:
            return None
        best = explain(errors)
        where = "/".join(str(p) for p in best.absolute_path)
        more = " (+%d more)" % (len(errors) - 1) if len(errors) > 1 else ""
        return "%s%s%s" % ("at /%s: " % where if where else "", best.message, more)


def explain(errors):
    """The error to report: the most relevant one, and inside a oneOf/anyOf the branch that was meant
    (the one whose discriminating const/enum/type matched, then the one with the fewest errors)."""
    key = jsonschema.exceptions.relevance
    best = max(errors, key=key)
    while best.context:
        branches = {}
        for e in best.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)

        def score(errs):
            mismatch = any(e.validator in ("const", "enum", "type") and len(e.relative_path) <= 1 for e in errs)
            return (mismatch, len(errs))

        best = max(min(branches.values(), key=score), key=key)
    return best


def essence(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def is_json(media):
    return media == "application/json" or media.endswith("+json")


def excerpt(body):
    text = body if isinstance(body, str) else json.dumps(body)
    text = text.replace("\n", "\\n")
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def find_response(responses, status):
    s = str(status)
    if s in responses:
        return s
    if s[0] + "XX" in responses:
        return s[0] + "XX"
    return None


def check_body(d, rec, content, where):
    """Checks a record's media type and body against a response's content; a message or None."""
    media = essence(rec.get("contentType"))
    keys = list(content or {})
    key = rec.get("contentType") if rec.get("contentType") in keys else next((k for k in keys if essence(k) == media), None)
    if key is None:
        return "media type %r not documented (documented: %s)" % (rec.get("contentType"), ", ".join(keys) or "none")
    body = rec.get("body", "")
    if rec.get("method", "").upper() == "HEAD" and body == "":
        return None
    schema_ref = "#" + pointer(where + ["content", key, "schema"])
    if "schema" not in content[key]:
        return None
    if is_json(media):
        try:
            value = json.loads(body)
        except (TypeError, ValueError) as e:
            return "body is not JSON (%s)" % e
    elif media.startswith("text/"):
        value = body
    else:
        return None
    return d.validate(schema_ref, value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("openapi")
    ap.add_argument("record_dir")
    ap.add_argument("--min", type=int, default=50, help="fail when fewer records were found (default 50)")
    ap.add_argument("--coverage", action="store_true", help="also list the documented responses no record exercised")
    args = ap.parse_args()

    try:
        with open(args.openapi, encoding="utf-8") as f:
            d = Document(json.load(f))
    except (OSError, ValueError) as e:
        print("openapi: cannot read %s: %s" % (args.openapi, e))
        return 1
    problems = d.problems()
    for p in problems:
        print("openapi: document: " + p)
    if problems:
        print("openapi: 0 answers checked (0 routes, 0 statuses), %d failed (the document is broken)" % len(problems))
        return 1

    if not os.path.isdir(args.record_dir):
        print("openapi: no record directory " + args.record_dir)
    paths = d.doc["paths"]
    files = sorted(glob.glob(os.path.join(args.record_dir, "*.jsonl")))
    checked = failed = 0
    routes, statuses = set(), set()

    def fail(origin, route, status, message, body=""):
        nonlocal failed
        failed += 1
        line = "FAIL %s %s: %s" % (route, status, message)
        if body:
            line += " | body: " + excerpt(body)
        print(line + "  [" + origin + "]")

    for name in files:
        with open(name, encoding="utf-8", errors="replace") as f:
            for number, text in enumerate(f, 1):
                if not text.strip():
                    continue
                origin = "%s:%d" % (os.path.basename(name), number)
                checked += 1
                try:
                    rec = json.loads(text)
                    method, target, status = rec["method"], rec["target"], int(rec["status"])
                    if not isinstance(method, str) or not isinstance(target, str):
                        raise TypeError("method and target must be strings")
                except (ValueError, KeyError, TypeError) as e:
                    fail(origin, "?", "?", "malformed record (%s)" % e, text.strip())
                    continue
                path = unquote(target.split("?", 1)[0].split("#", 1)[0])
                route = "%s %s" % (method.upper(), path)
                item, item_at = d.deref(paths[path], ["paths", path]) if path in paths else (None, None)
                operation = item.get(method.lower()) if isinstance(item, dict) and method.lower() in METHODS else None
                if operation is None:
                    if status not in (404, 405):
                        why = "undocumented path" if item is None else "undocumented method"
                        fail(origin, route, status, why + " answered %d (only 404/405 are expected there)" % status, rec.get("body", ""))
                        continue
                    message = check_body_generic(d, rec)
                    if message:
                        fail(origin, route, status, message, rec.get("body", ""))
                    continue
                responses = operation.get("responses", {})
                key = find_response(responses, status)
                if key is None:
                    fail(origin, route, status, "status %d not documented (documented: %s)" % (status, ", ".join(sorted(responses))), rec.get("body", ""))
                    continue
                routes.add(route)
                statuses.add((route, key))
                response, response_at = d.deref(responses[key], item_at + [method.lower(), "responses", key])
                message = check_body(d, rec, response.get("content"), response_at)
                if message:
                    fail(origin, route, status, message, rec.get("body", ""))

    if args.coverage:
        for p, item in sorted(paths.items()):
            item, _ = d.deref(item, ["paths", p])
            for m in METHODS:
                if m in item:
                    r = "%s %s" % (m.upper(), p)
                    for s in sorted(item[m].get("responses", {})):
                        if (r, s) not in statuses:
                            print("not exercised: %s %s" % (r, s))

    short = checked < args.min
    print("openapi: %d answers checked (%d routes, %d statuses), %d failed%s" % (
        checked, len(routes), len(statuses), failed,
        "; fewer records than --min %d in %s" % (args.min, args.record_dir) if short else ""))
    return 1 if failed or short else 0


def check_body_generic(d, rec):
    """A 404/405 of an unknown path or method: the generic error, JSON."""
    media = essence(rec.get("contentType"))
    body = rec.get("body", "")
    if rec.get("method", "").upper() == "HEAD" and body == "":
        return None if is_json(media) or media == "" else "media type %r is not JSON" % rec.get("contentType")
    if not is_json(media):
        return "media type %r is not JSON (the generic error is application/json)" % rec.get("contentType")
    try:
        value = json.loads(body)
    except (TypeError, ValueError) as e:
        return "body is not JSON (%s)" % e
    return d.validate(GENERIC_ERROR, value)


if __name__ == "__main__":
    sys.exit(main())
