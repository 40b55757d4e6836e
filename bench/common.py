"""Shared pieces of the benchmark scripts: arguments, peak memory, the closing JSON line."""

from __future__ import annotations

import argparse
import json
import resource
import sys


def standard_parser(description: str, records: int, latency_ms: int) -> argparse.ArgumentParser:
    """An argument parser with the `--records` and `--latency-ms` every benchmark accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--records", type=int, default=records)
    parser.add_argument("--latency-ms", type=int, default=latency_ms)
    return parser


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children) in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def print_result(result: dict) -> None:
    """Print the closing line: one JSON object with name, records, seconds, calls, peak_rss_mb."""
    missing = {"name", "records", "seconds", "calls", "peak_rss_mb"} - result.keys()
    if missing:
        raise ValueError(f"benchmark result lacks {sorted(missing)}")
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()
