#!/usr/bin/python3
"""The report of `scripts/bench-cluster scale`: reads RESULTS/scale-*.json, prints what an
instance pays per message for its own clients and for everyone else's, the whole cluster against
the single node, and the capacity model drawn from them; writes scale.tsv and, with gnuplot,
scale.png.

  scale_report.py RESULTS

The model (docs/scaling.md, "Capacity model"): with clients spread evenly over N instances at a
total rate R, an instance pays R/N x serve + R x read + idle, where
  read  = CPU us per message of an instance with no client (every instance reads every record),
  serve = CPU us per message of the instance that serves the clients, minus read;
so one instance core saturates at R_max(N) = (1e6 - idle) / (serve / N + read) messages/s, and
no number of instances carries more than 1e6 / read. The broker's share grows with R alone:
R x broker us per message (and its idle cost grows with N).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys


def load(results: str) -> dict[str, dict]:
    runs = {}
    def order(p: str):
        tag = os.path.basename(p)[len("scale-"):-len(".json")]
        n, _, kind = tag.partition("-")
        return (0, 0, "") if tag == "single" else (1, int(n) if n.isdigit() else 0, kind != "first")
    for path in sorted(glob.glob(os.path.join(results, "scale-*.json")), key=order):
        tag = os.path.basename(path)[len("scale-"):-len(".json")]
        try:
            runs[tag] = json.load(open(path))
        except (OSError, ValueError):
            pass
    return runs


def total(d: dict[str, float]) -> float:
    return sum(v for k, v in d.items() if k != "client")


def stalled(j: dict) -> str:
    """Why a run does not measure the load it was given (a machine too busy to keep up), or ''."""
    d = j["origin_ms"]
    if j["received"] < 0.99 * j["expected"]:
        return f"received {j['received']} of {j['expected']}"
    if d.get("count") and d["p99"] > 1000:
        return f"origin p99 {d['p99']:.0f} ms"
    return ""


def main(results: str) -> None:
    runs = load(results)
    if not runs:
        sys.exit(f"no scale-*.json in {results}")
    single = runs.get("single")
    rows = []
    print("run        instances  per-process CPU us/msg (load)             total us/msg  idle CPU % (instances)")
    for tag, j in runs.items():
        us = j["load"]["cpu_us_per_msg"]
        idle = j["idle"]["cpu_pct"]
        inst = {k: v for k, v in us.items() if k.startswith("i")}
        rows.append((tag, j, us, idle, inst))
        print(f"{tag:10} {j['instances']:9}  " + " ".join(f"{k} {v:g}" for k, v in us.items() if k != "client")
              + f"  | {total(us):.0f} | " + " ".join(f"{k} {v:g}" for k, v in idle.items() if k.startswith("i")))
    model = {}
    for tag, j, us, idle, inst in rows:
        if not tag.endswith("-first") or j["instances"] < 2:
            continue
        if stalled(j):
            print(f"{tag}: not used for the model, the run stalled ({stalled(j)})")
            continue
        serving = inst["i1"]
        bystanders = [v for k, v in inst.items() if k != "i1"]
        read = max(bystanders)
        print(f"{tag}: a bystander pays {read:g} us/msg, {100 * read / serving:.1f}% of the serving "
              f"instance's {serving:g}, idle cost included")
        added = j["load"].get("added_us_per_msg")
        if added:
            a_serving = added["i1"]
            a_read = max(v for k, v in added.items() if k.startswith("i") and k != "i1")
            print(f"{tag}: the load adds {a_read:g} us/msg to a bystander, "
                  f"{100 * a_read / max(a_serving, 1e-9):.1f}% of what it adds to the serving "
                  f"instance ({a_serving:g}) (goal: at most 5%)")
        if model:
            continue  # the model is drawn from the first usable run with bystanders
        model = {"tag": tag, "read": read, "serve": max(1.0, serving - read),
                 "idle_pct": sum(v for k, v in idle.items() if k.startswith("i")) / j["instances"],
                 "broker": us.get("broker", 0.0), "persister": us.get("persister", 0.0),
                 "postgres": us.get("postgres", 0.0)}
    if single:
        s = total(single["load"]["cpu_us_per_msg"])
        for tag, j, us, *_ in rows:
            if tag != "single":
                note = f" [stalled: {stalled(j)}]" if stalled(j) else ""
                print(f"{tag}: the whole cluster pays {total(us):.0f} us/msg, {total(us) / s:.1f}x the single "
                      f"node's {s:.0f} (goal: at most 2x){note}")
    for tag, j, *_ in rows:
        d = j["cross_ms"]
        if d.get("count"):
            print(f"{tag}: cross-instance p50 {d['p50']:.1f} p99 {d['p99']:.1f} ms at {j['rate']:g} msgs/s")
    if not model:
        return
    serve, idle = model["serve"], model["idle_pct"]
    # An instance reads only the partitions its clients use. "even" runs put a member of every
    # room on every instance, so there each reads everything: what it pays past its share of
    # serve is what reading the others' traffic costs.
    reads = [inst[k] - serve / j["instances"] for tag, j, us, idle_, inst in rows
             if tag.endswith("-even") and not stalled(j) for k in inst]
    read = max(1.0, sum(reads) / len(reads)) if reads else model["read"]
    print(f"model (from {model['tag']} and the even runs): serve {serve:g} us/msg, read {read:.0f} us/msg "
          f"(a partition read for others' clients), idle {idle:.2f}% per instance; broker {model['broker']:g}, "
          f"persister {model['persister']:g}, postgres {model['postgres']:g} us/msg")
    tsv = os.path.join(results, "scale.tsv")
    with open(tsv, "w") as f:
        f.write("# instances\tmax msgs/s, rooms' users together (each reads its share)"
                "\tmax msgs/s, users spread (each reads everything)\n")
        for n in (1, 2, 3, 5, 10, 20, 50, 100):
            local = (1e6 * (1 - idle / 100)) * n / (serve + read)
            spread = (1e6 * (1 - idle / 100)) / (serve / n + read)
            f.write(f"{n}\t{local:.0f}\t{spread:.0f}\n")
            print(f"  N={n:3}: at most {local:8.0f} msgs/s in all with rooms' users together, {spread:8.0f} "
                  f"with users spread, one core per instance")
    print(f"  ceiling with users spread: {1e6 / read:.0f} msgs/s whatever N (1e6 / read)")
    measured = os.path.join(results, "scale-measured.tsv")
    with open(measured, "w") as f:
        f.write("# run\tinstances\tserving instance us/msg\tbystander us/msg\tcluster us/msg\n")
        for k, (tag, j, us, idle, inst) in enumerate(rows):
            if tag == "single":
                f.write(f"single\t1\t{total(us):.0f}\t0\t{total(us):.0f}\n")
                continue
            others = [v for name, v in inst.items() if name != "i1"]
            f.write(f"{tag}\t{j['instances']}\t{inst['i1']}\t{max(others) if others else 0}\t{total(us):.0f}\n")
    if shutil.which("gnuplot"):
        png = os.path.join(results, "scale.png")
        script = f"""
set terminal png size 900,520
set output '{png}'
set multiplot layout 1,2
set title 'measured: CPU us per message'
set style data histograms
set style histogram clustered
set style fill solid 0.8
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
set key top left
plot '{measured}' using 3:xtic(1) title 'serving instance', '' using 4 title 'bystander', '' using 5 title 'whole cluster'
set title 'model: msgs/s an instance core carries'
set style data linespoints
set logscale x
set xtics norotate
set xlabel 'instances'
set key bottom right
plot '{tsv}' using 1:2 title 'rooms together', '' using 1:3 title 'users spread', {1e6 / read:.0f} title 'ceiling, spread' with lines dashtype 2
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=False)
        print(f"plot: {png}")
    else:
        print("no plot: gnuplot is not installed (apt-get install gnuplot-nox)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
