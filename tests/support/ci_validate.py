#!/usr/bin/env python3
"""Validates importgate's CI outputs with the parsers CI systems and their tools use.

    ci_validate.py sarif REPORT.sarif SCHEMA.json   # SARIF 2.1.0 JSON schema (Draft 7)
    ci_validate.py junit REPORT.xml                 # junitparser, as test-report uploaders read it
    ci_validate.py fetch-schema DEST.json           # the official schema, from a crates.io package

Prints one JSON object on stdout: what the parser saw, for the caller to assert on. Exit status 1
with the validator's message when the document is invalid.
"""
import json
import sys


def sarif(report_path, schema_path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        for e in errors[:20]:
            path = "/".join(str(p) for p in e.absolute_path)
            print(f"invalid at /{path}: {e.message}", file=sys.stderr)
        sys.exit(1)
    results = []
    for run in report["runs"]:
        for r in run.get("results", []):
            loc = r["locations"][0]["physicalLocation"]
            results.append(
                {
                    "rule": r["ruleId"],
                    "level": r.get("level"),
                    "uri": loc["artifactLocation"]["uri"],
                    "uriBaseId": loc["artifactLocation"].get("uriBaseId"),
                    "line": loc.get("region", {}).get("startLine"),
                }
            )
    rules = [r["id"] for run in report["runs"] for r in run["tool"]["driver"].get("rules", [])]
    print(json.dumps({"valid": True, "results": results, "rules": rules}))


def junit(report_path):
    from junitparser import JUnitXml, Failure, Error, Skipped

    xml = JUnitXml.fromfile(report_path)
    cases = []
    for suite in xml:
        for case in suite:
            outcome = "passed"
            for res in case.result:
                if isinstance(res, (Failure, Error)):
                    outcome = "failed"
                elif isinstance(res, Skipped):
                    outcome = "skipped"
            cases.append(
                {"suite": suite.name, "classname": case.classname, "name": case.name, "outcome": outcome}
            )
    print(json.dumps({"tests": len(cases), "failures": sum(c["outcome"] == "failed" for c in cases), "cases": cases}))


# The OASIS SARIF 2.1.0 schema ships inside the `serde-sarif` crate (its types are generated from
# it); crates.io is reachable where the schema's own site may not be. Pinned by digest.
SCHEMA_CRATE = "https://static.crates.io/crates/serde-sarif/serde-sarif-0.8.0.crate"
SCHEMA_MEMBER = "serde-sarif-0.8.0/src/schema.json"
SCHEMA_SHA256 = "af47e7b67f24efe74076621fd3a5fbe7398add9e84fe820c971219a385895cea"


def fetch_schema(dest):
    import hashlib
    import io
    import os
    import tarfile
    import urllib.request

    with urllib.request.urlopen(SCHEMA_CRATE, timeout=60) as r:
        data = r.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        member = t.extractfile(SCHEMA_MEMBER)
        if member is None:
            sys.exit(f"{SCHEMA_MEMBER} missing from {SCHEMA_CRATE}")
        schema = member.read()
    digest = hashlib.sha256(schema).hexdigest()
    if digest != SCHEMA_SHA256:
        sys.exit(f"schema digest {digest} != {SCHEMA_SHA256}")
    if b"Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema" not in schema:
        sys.exit("not the SARIF 2.1.0 schema")
    tmp = dest + ".tmp"
    with open(tmp, "wb") as f:
        f.write(schema)
    os.replace(tmp, dest)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fetch-schema":
        fetch_schema(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "sarif":
        sarif(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "junit":
        junit(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
