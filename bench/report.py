#!/usr/bin/env python3
"""Side-by-side table from bench/side_by_side.sh's results: allot against the best anchor.

  python3 bench/report.py /tmp/allot-side-by-side
"""
import glob
import json
import os
import sys


def main(out):
    allot, anchors = {}, {}
    for path in glob.glob(os.path.join(out, "*.jsonl")):
        for line in open(path):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("engine") == "allot" and "n" in d:
                allot[(d["n"], d["r"])] = d
            elif d.get("status") == "ok" and "stage" in d:
                key = (d["N"], d["R"], d["stage"])
                name = f'{d["engine"]} {d["variant"]}'
                if key not in anchors or d["wall_s"] < anchors[key][0]:
                    anchors[key] = (d["wall_s"], name, d.get("peak_mb"), d.get("check"))
    print("| clients | rules | stage | best anchor | anchor s | allot s | allot ÷ | allot peak MB (data) | checksums |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (n, r), a in sorted(allot.items()):
        for stage, key, mine in (("match", "match_s", a["match_s"]), ("match + employee", "full_s", a["full_s"])):
            anc = anchors.get((n, r, "match" if stage == "match" else "full"))
            if anc is None:
                continue
            same = ""
            if stage == "match" and anc[3] is not None:
                same = "equal" if list(anc[3]) == list(a["check_match"]) else "DIFFER"
            print(f"| {n:,} | {r:,} | {stage} | {anc[1]} | {anc[0]:.3f} | {mine:.4f} | {anc[0] / mine:.1f}× | "
                  f"{a['run_peak_mb']} ({a['data_mb']}) | {same} |")
    exact = sorted((k, v) for k, v in anchors.items() if k[2] == "exact")
    if exact:
        print()
        print("Exact greedy balancing (polars match + Python heap), against allot's full stage:")
        print()
        for (n, r, _), v in exact:
            a = allot.get((n, r))
            if a:
                print(f"- {n:,} × {r:,}: {v[0]:.3f} s vs allot {a['full_s']:.4f} s ({v[0] / a['full_s']:.1f}×)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/allot-side-by-side")
