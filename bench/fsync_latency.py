#!/usr/bin/env python3
"""The disk's own floor under a durable send: fdatasync latency of a small append.

A parley send is answered, and delivered, once its group commit is durable: SQLite in WAL mode
appends the commit's frames to the WAL and calls fdatasync (--sync full). No send can be faster
than that fdatasync, so the rooms benchmark reports its latency beside this figure, measured in
the same run on the same filesystem.

This does what one commit does: append PAGE bytes (a 4 KiB WAL frame) to a file and fdatasync
it, COUNT times, wrapping to the start every WRAP appends as the WAL does after a checkpoint.

    bench/fsync_latency.py [DIR=/tmp] [COUNT=2000]   # prints one JSON line
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

PAGE = 4096
WRAP = 1000


def percentile(sorted_us: list[float], p: float) -> float:
    return sorted_us[min(len(sorted_us) - 1, int(p / 100 * len(sorted_us)))]


def main() -> int:
    where = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    block = os.urandom(PAGE)
    fd, path = tempfile.mkstemp(prefix="fsync-latency-", dir=where)
    try:
        samples = []
        for i in range(count):
            os.pwrite(fd, block, (i % WRAP) * PAGE)
            start = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - start) * 1e6)
        samples.sort()
        print(json.dumps({
            "dir": where, "count": count, "bytes": PAGE,
            "fdatasync_us": {"p50": round(percentile(samples, 50), 1), "p90": round(percentile(samples, 90), 1),
                             "p99": round(percentile(samples, 99), 1), "max": round(samples[-1], 1),
                             "mean": round(sum(samples) / len(samples), 1)},
        }))
    finally:
        os.close(fd)
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
