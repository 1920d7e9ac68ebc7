#!/usr/bin/env python3
"""Prints the medians of a pm_bench / log_bench / index_bench JSON output as Markdown tables, with
ratios.

Usage: summarize.py pm.json [log.json] [index.json]
(write them with --benchmark_out=FILE --benchmark_out_format=json; repetitions >= 2 so that
there are medians).
"""

import json
import sys


def medians(path):
    """{run_name: benchmark entry} of the median aggregates, and the run's context."""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"].removesuffix("/real_time")] = b
    return out, doc["context"]


def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    return b["real_time"] * scale


def fmt_ns(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e4:
        return f"{v / 1e3:.1f} us"
    return f"{v:.0f} ns"


def pm_table(m):
    sizes = sorted({int(k.split("/")[-1]) for k in m if k.startswith("BM_Pm_Persist/")})
    methods = ["none", "clwb", "clflushopt", "clflush", "msync", "fdatasync"]
    for medium in ["shm", "file"]:
        print(f"\nBM_Pm_Persist/{medium}: median time per persist (write + persist)\n")
        print("| bytes | " + " | ".join(methods) + " | msync / clwb |")
        print("|---:|" + "---:|" * (len(methods) + 1))
        for s in sizes:
            row = []
            for meth in methods:
                b = m.get(f"BM_Pm_Persist/{medium}/{meth}/{s}")
                row.append(fmt_ns(ns(b)) if b else "skipped")
            clwb = m.get(f"BM_Pm_Persist/{medium}/clwb/{s}")
            msync = m.get(f"BM_Pm_Persist/{medium}/msync/{s}")
            ratio = f"{ns(msync) / ns(clwb):.1f}x" if clwb and msync else "-"
            print(f"| {s} | " + " | ".join(row) + f" | {ratio} |")


def per_record(b, batch):
    return ns(b) / batch


def log_table(m):
    for fresh in ["", "Fresh"]:
        for medium in ["pm", "file"]:
            base = m.get(f"BM_Log_{fresh}AppendOnly/{medium}")
            if not base:
                continue
            base_ns = per_record(base, 1)
            print(f"\nBM_Log_{fresh}AppendCommit/{medium}: median per batch and per record; "
                  f"append-only baseline {fmt_ns(base_ns)} per record\n")
            print("| batch | per batch | per record | records/s | per record vs append-only |")
            print("|---:|---:|---:|---:|---:|")
            batch = 1
            while True:
                b = m.get(f"BM_Log_{fresh}AppendCommit/{medium}/{batch}")
                if not b:
                    break
                pr = per_record(b, batch)
                print(f"| {batch} | {fmt_ns(ns(b))} | {fmt_ns(pr)} | {1e9 / pr:,.0f} | "
                      f"{pr / base_ns:.2f}x |")
                batch *= 2


def index_table(m):
    names = ["BM_Map_Upsert/unordered_map", "BM_Map_Upsert/keymap", "BM_Index_Write/none",
             "BM_Index_Write/checkpoint", "BM_Index_Write/checkpoint_nocache"]
    got = {}
    for n in names:
        for k, b in m.items():
            if k.split("/iterations:")[0] == n:
                got[n] = ns(b)
    base = got.get("BM_Map_Upsert/unordered_map")
    none = got.get("BM_Index_Write/none")
    print("\nindex_bench: median time per write (random keys over 100,000)\n")
    print("| benchmark | per write | vs unordered_map upsert | vs index without a file |")
    print("|---|---:|---:|---:|")
    for n in names:
        if n not in got:
            continue
        r1 = f"{got[n] / base:.2f}x" if base else "-"
        r2 = f"{got[n] / none:.2f}x" if none else "-"
        print(f"| {n} | {fmt_ns(got[n])} | {r1} | {r2} |")


def main():
    for path in sys.argv[1:]:
        m, ctx = medians(path)
        print(f"# {path}: {ctx.get('executable', '')}")
        for key in ["kernel", "cpu_model", "num_cpus", "shm_fs", "file_fs", "date"]:
            if key in ctx:
                print(f"- {key}: {ctx[key]}")
        if any(k.startswith("BM_Pm_") for k in m):
            pm_table(m)
        if any(k.startswith("BM_Log_") for k in m):
            log_table(m)
        if any(k.startswith("BM_Index_") for k in m):
            index_table(m)
        print()


if __name__ == "__main__":
    main()
