"""The territory benchmark's baseline and measures (issue #5, BENCHMARKS.md §5).

For each run of `allot balance` (its design CSV and JSON figures) this recomputes, independently of
allot, the measures data/territory/ANCHORS.md defines — pot dev, pieces are taken from allot's JSON,
but comp_w is recomputed here from the design — and the baseline comp_w of scikit-learn's
KMeans(sample_weight=potential) on the same clients, so that comp_w can be shown relative to it
as ANCHORS.md does. Prints one Markdown table row per run.

    python bench/territory_baseline.py RUN.json ...   # RUN.json: {"name","clients","k","design","figures","time","kb"}
"""
import csv
import json
import math
import sys

import numpy as np
from sklearn.cluster import KMeans

R = 6371.0088


def unit(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def comp_w(xyz, w, labels):
    """Sum of w_i times the great-circle distance to the weighted spherical centroid of i's territory."""
    total = 0.0
    for t in np.unique(labels):
        m = labels == t
        c = (xyz[m] * w[m, None]).sum(axis=0)
        n = np.linalg.norm(c)
        if n == 0:
            continue
        c = c / n
        cross = np.linalg.norm(np.cross(xyz[m], c), axis=1)
        dot = xyz[m] @ c
        total += float((w[m] * R * np.arctan2(cross, dot)).sum())
    return total


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = [r["id"] for r in rows]
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    w = np.array([float(r["potential"]) for r in rows])
    return ids, unit(lat, lon), w


baselines = {}
for spec_path in sys.argv[1:]:
    spec = json.load(open(spec_path))
    ids, xyz, w = load(spec["clients"])
    key = (spec["clients"], spec["k"])
    if key not in baselines:
        km = KMeans(n_clusters=spec["k"], n_init=3, random_state=0).fit(xyz, sample_weight=w)
        baselines[key] = comp_w(xyz, w, km.labels_)
    with open(spec["design"], newline="", encoding="utf-8") as f:
        terr = {r["id"]: r["territory"] for r in csv.DictReader(f)}
    names = sorted(set(terr.values()))
    labels = np.array([names.index(terr[i]) for i in ids])
    mine = comp_w(xyz, w, labels)
    fig = json.load(open(spec["figures"]))
    crit = fig["criteria"][0]
    if abs(mine - fig["compactness"]) > 1e-6 * mine:
        print(f"warning: {spec['name']}: allot reports compactness {fig['compactness']:.6e}, recomputed {mine:.6e}", file=sys.stderr)
    moves = fig.get("moves")
    moved = ""
    if moves:
        bound = moves.get("lower_bound")
        moved = f"{moves['potential_share'] * 100:.2f}%" + (f" ({bound * 100:.2f}%)" if bound is not None else "")
    pmed = f"{fig['p_median'] / 4.158e10:.4f}" if fig.get("p_median") and "ru_cities15k" in spec["clients"] and spec["k"] == 7 and not moves else ""
    dev = f"{crit['deviation'] * 100:.2f}%"
    if fig["giants"]:
        dev += f" (giant-free {crit['giant_free_deviation'] * 100:.2f}%)"
    print(
        f"| {spec['name']} | {dev} | {fig['pieces']} | {pmed} | {mine / baselines[key]:.2f}× | {moved} | {spec['time']} s | {int(spec['kb']) // 1024} |"
    )
