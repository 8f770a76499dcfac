"""Requests per operation from a schemathesis NDJSON event log, with the status codes they got.

usage: python3 scripts/fuzz_summary.py target/fuzz/events.ndjson docs/openapi.yaml

Methods the description does not list (schemathesis probes them too) are summed on one line per
path.
"""
import collections
import json
import sys

import yaml


def documented_operations(spec_path):
    with open(spec_path, encoding="utf-8") as spec:
        paths = yaml.safe_load(spec)["paths"]
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return {f"{m.upper()} {p}" for p, item in paths.items() for m in item if m in methods}


def main(path, spec_path):
    documented = documented_operations(spec_path)
    requests = collections.Counter()
    statuses = collections.defaultdict(collections.Counter)
    modes = collections.defaultdict(collections.Counter)
    with open(path, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            interactions = recorder.get("interactions", {})
            for case_id, case in recorder.get("cases", {}).items():
                interaction = interactions.get(case_id)
                if interaction is None or interaction.get("response") is None:
                    continue
                value = case["value"]
                operation = f"{value['method'].upper()} {value['path']}"
                if operation not in documented:
                    operation = f"(other methods) {value['path']}"
                requests[operation] += 1
                statuses[operation][interaction["response"]["status_code"]] += 1
                mode = value.get("meta", {}).get("generation", {}).get("mode", "?")
                modes[operation][mode] += 1
    width = max((len(op) for op in requests), default=10)
    print(f"{'operation':<{width}}  requests  positive/negative  status codes")
    for operation in sorted(requests):
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(statuses[operation].items()))
        mix = f"{modes[operation]['positive']}/{modes[operation]['negative']}"
        print(f"{operation:<{width}}  {requests[operation]:>8}  {mix:>17}  {codes}")
    print(f"{'total':<{width}}  {sum(requests.values()):>8}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
