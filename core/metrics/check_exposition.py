#!/usr/bin/env python3
"""Checks a /metrics page: Prometheus text exposition format on stdin.

Parses it with the Prometheus project's own Python client
(prometheus_client.parser, Debian's python3-prometheus-client), then checks
what that parser lets through (it is lax: a stray sample becomes an
untyped family of its own) and domian's naming conventions:

  - every family has a TYPE and a HELP, and appears once;
  - counters end in _total, nothing else does; counters are >= 0;
  - histograms have cumulative buckets ending in le="+Inf" == _count;
  - families are domian_* (each sample with a `node` label) or process_*
    (no labels, as every client library exports them);
  - no value is NaN.

Prints the families as JSON on stdout ({"families": [{"name", "type",
"help", "samples": [{"name", "labels", "value"}]}]}, names as written in
the text) and exits 0; or prints every problem on stderr and exits 1.
Used by core/metrics/metrics_test.cc.
"""

import json
import math
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:  # pragma: no cover - the test says what to install
    print(f"check_exposition: {error}: install python3-prometheus-client (scripts/deps)",
          file=sys.stderr)
    sys.exit(2)

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Families whose names the text gives in TYPE lines, in order.
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)\s*$")
HELP_LINE = re.compile(r"^# HELP (\S+) (.*)$")


def check(text):
    problems = []
    typed, helped = [], set()
    for line in text.splitlines():
        if match := TYPE_LINE.match(line):
            typed.append((match.group(1), match.group(2)))
        elif match := HELP_LINE.match(line):
            if not match.group(2).strip():
                problems.append(f"{match.group(1)}: empty HELP")
            helped.add(match.group(1))
    names = [name for name, _ in typed]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: more than one TYPE line (a family must be given once)")

    families = list(text_string_to_metric_families(text))
    if len(families) != len(typed):
        problems.append(f"{len(typed)} TYPE lines but {len(families)} families parsed: a "
                        "sample outside its family, or an untyped one")
    out = []
    for family, (written, kind) in zip(families, typed):
        if family.type != kind:
            problems.append(f"{written}: parsed as {family.type}, declared {kind}")
        if family.type == "untyped":
            problems.append(f"{written}: untyped")
        if written not in helped:
            problems.append(f"{written}: no HELP")
        if not NAME.match(written):
            problems.append(f"{written}: not a valid metric name")
        if kind == "counter" and not written.endswith("_total"):
            problems.append(f"{written}: a counter whose name does not end in _total")
        if kind != "counter" and written.endswith("_total"):
            problems.append(f"{written}: a {kind} whose name ends in _total")
        domian = written.startswith("domian_")
        if not domian and not written.startswith("process_"):
            problems.append(f"{written}: neither domian_ nor process_")
        samples = []
        for sample in family.samples:
            if math.isnan(sample.value):
                problems.append(f"{sample.name}{sample.labels}: NaN")
            if domian and "node" not in sample.labels:
                problems.append(f"{sample.name}{sample.labels}: no node label")
            if not domian and sample.labels:
                problems.append(f"{sample.name}{sample.labels}: process_* take no labels")
            if kind == "counter" and sample.value < 0:
                problems.append(f"{sample.name}{sample.labels}: a negative counter")
            samples.append({"name": sample.name, "labels": sample.labels,
                            "value": sample.value})
        if kind == "histogram":
            problems.extend(check_histogram(written, family.samples))
        out.append({"name": written, "type": family.type, "help": family.documentation,
                    "samples": samples})
    return out, problems


def check_histogram(name, samples):
    """Each series' buckets: cumulative, ending in +Inf, which equals _count."""
    problems = []
    series = {}
    for sample in samples:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        key = tuple(sorted(labels.items()))
        entry = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sample.name == name + "_bucket":
            entry["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name == name + "_count":
            entry["count"] = sample.value
        elif sample.name == name + "_sum":
            entry["sum"] = sample.value
    for key, entry in series.items():
        where = f"{name}{dict(key)}"
        buckets = entry["buckets"]
        if not buckets or buckets[-1][0] != math.inf:
            problems.append(f"{where}: no le=\"+Inf\" bucket last")
            continue
        if [b for b, _ in buckets] != sorted(b for b, _ in buckets):
            problems.append(f"{where}: buckets out of order")
        counts = [c for _, c in buckets]
        if counts != sorted(counts):
            problems.append(f"{where}: bucket counts not cumulative")
        if entry["count"] is None or entry["sum"] is None:
            problems.append(f"{where}: no _count or _sum")
        elif entry["count"] != counts[-1]:
            problems.append(f"{where}: _count {entry['count']} != +Inf bucket {counts[-1]}")
    return problems


def main():
    text = sys.stdin.read()
    try:
        families, problems = check(text)
    except (ValueError, IndexError, KeyError) as error:  # the parser's refusal
        print(f"check_exposition: not Prometheus text format: {error}", file=sys.stderr)
        return 1
    if problems:
        for problem in problems:
            print(f"check_exposition: {problem}", file=sys.stderr)
        return 1
    json.dump({"families": families}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
