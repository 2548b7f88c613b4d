#!/usr/bin/env python3
"""Translate the anchor harness's data (../shared/bench/assign, gen_data.py) for `allot bench`.

  python bench/prepare.py [--data /tmp/assign-data] [--clients 1000000 10000000] [--rules 10 1000 10000]

For each client file clients_<N>.parquet it writes <data>/allot/clients_<N>/<column>.bin (raw
little-endian arrays) and a manifest.json; for each rule set rules_<R>.json it writes
<data>/allot/scheme_<R>.toml and employees_<R>.csv: every anchor rule becomes an allot rule with
the same condition (regions, industry, potential band [min, max), ownership, vip, channel, product,
tag bits) whose target is its territory's employees as a pool (round-robin territories →
round-robin, balanced → balance-potential, with the members' weights; capacities are left out, as
the anchors ignore them too). Rule ids carry the anchor's rule and territory ids (r<rule>_t<territory>),
so that `allot bench` computes the same checksums as the anchors.

Needs numpy and pyarrow (the anchor harness's venv has both).
"""
import argparse
import json
import os

import numpy as np
import pyarrow.parquet as pq

COLS = {"client_id": "<i8", "region": "<i2", "industry": "<i1", "product": "<i1", "channel": "<i1",
        "ownership": "<i1", "vip": "<i1", "tags": "<i4", "potential": "<f8"}


def prepare_clients(data, n):
    src = os.path.join(data, f"clients_{n}.parquet")
    out = os.path.join(data, "allot", f"clients_{n}")
    os.makedirs(out, exist_ok=True)
    t = pq.read_table(src)
    for c, dt in COLS.items():
        np.ascontiguousarray(t.column(c).to_numpy().astype(dt)).tofile(os.path.join(out, c + ".bin"))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"rows": t.num_rows, "columns": COLS}, f)
    print(f"clients {n}: {out}")


def cond(r):
    parts = []
    if r.get("regions") is not None:
        parts.append("region in [" + ", ".join(f'"{x}"' for x in r["regions"]) + "]")
    if r.get("industry") is not None:
        parts.append(f'industry == "{r["industry"]}"')
    if r.get("pot_min") is not None:
        parts.append(f"potential >= {float(r['pot_min'])!r}")
    if r.get("pot_max") is not None:
        parts.append(f"potential < {float(r['pot_max'])!r}")
    if r.get("ownership") is not None:
        parts.append(f'ownership == "{r["ownership"]}"')
    if r.get("vip") is not None:
        parts.append("vip" if r["vip"] else "not vip")
    if r.get("channel") is not None:
        parts.append(f'channel == "{r["channel"]}"')
    if r.get("product") is not None:
        parts.append(f'product == "{r["product"]}"')
    m = int(r.get("tags_all") or 0)
    for bit in range(32):
        if m >> bit & 1:
            parts.append(f'tags contains "t{bit}"')
    return " and ".join(parts) if parts else "true"


def prepare_rules(data, r):
    rs = json.load(open(os.path.join(data, f"rules_{r}.json")))
    terrs = {t["territory_id"]: t for t in rs["territories"]}
    out = os.path.join(data, "allot")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"employees_{r}.csv"), "w") as f:
        f.write("id,name\n")
        for t in rs["territories"]:
            for e in t["employees"]:
                f.write(f"e{e['employee_id']},Employee {e['employee_id']}\n")
    lines = [f"# Translated from the anchor harness's rules_{r}.json by bench/prepare.py.",
             '[columns]', 'region = "text"', 'industry = "text"', 'ownership = "text"', 'channel = "text"',
             'product = "text"', 'vip = "bool"', 'tags = "list"', 'potential = "number"', ""]
    for rule in rs["rules"]:
        t = terrs[rule["territory_id"]]
        members = ", ".join(f'"e{e["employee_id"]}"' for e in t["employees"])
        weights = ", ".join(f'e{e["employee_id"]} = {e["weight"]}' for e in t["employees"])
        strategy = "round-robin" if t["policy"] == "rr" else "balance-potential"
        lines += ["[[rules]]", f'id = "r{rule["rule_id"]}_t{rule["territory_id"]}"', 'role = "sales"',
                  f"when = '{cond(rule)}'", f"employees = [{members}]", f'strategy = "{strategy}"',
                  f"weights = {{ {weights} }}", ""]
    with open(os.path.join(out, f"scheme_{r}.toml"), "w") as f:
        f.write("\n".join(lines))
    print(f"rules {r}: {out}/scheme_{r}.toml")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("ASSIGN_DATA", "/tmp/assign-data"))
    ap.add_argument("--clients", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--rules", type=int, nargs="*", default=[10, 1000, 10000])
    a = ap.parse_args()
    for n in a.clients:
        prepare_clients(a.data, n)
    for r in a.rules:
        prepare_rules(a.data, r)


if __name__ == "__main__":
    main()
