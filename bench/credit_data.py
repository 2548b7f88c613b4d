#!/usr/bin/env python3
"""Sales for the credit benchmark (bench/credit.sh), beside bench/store_data.py's clients:
M deals over N clients in 2026 (or over the YEARS years up to 2026's end, YEARS = 10 for a
ten-year history; 5% lost, the rest won), two product lines, and
`credit.toml`: the store benchmark's scheme with a [credit] section whose share depends on
the product line, plus an overlay.

usage: credit_data.py N M OUT_DIR [YEARS]"""
import datetime
import os
import sys

n, m, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
years = int(sys.argv[4]) if len(sys.argv) > 4 else 1
start = datetime.date(2027 - years, 1, 1)
span = (datetime.date(2027, 1, 1) - start).days
with open(os.path.join(out, "deals.csv"), "w", encoding="utf-8") as f:
    f.write("id,client_id,date,opened,amount,currency,product_line,stage\n")
    days = [(start + datetime.timedelta(d)).isoformat() for d in range(span)]
    for i in range(m):
        # One year: the dates scattered over it (every chunk of the file has every month). Ten
        # years: in the order they were sold, as a CRM's history is exported.
        d = (i * 13) % span if years == 1 else i * span // m
        line = "service" if i % 4 == 0 else "equipment"
        stage = "lost" if i % 20 == 3 else "won"
        f.write(f"d{i:09d},c{(i * 7) % n:08d},{days[d]},{days[max(d - 30, 0)]},{(i * 7919) % 100000 * 100 + 1},RUB,{line},{stage}\n")

with open(os.path.join(out, "scheme.toml"), encoding="utf-8") as s, \
        open(os.path.join(out, "credit.toml"), "w", encoding="utf-8") as f:
    f.write(s.read())
    f.write('\n[deal_columns]\nproduct_line = "text"\n')
    f.write('\n[credit]\npolicy = "time-in-role"\n\n')
    f.write('[[credit.shares]]\nwhen = \'product_line == "service"\'\nrevenue = { sales = 40, service = 60 }\n\n')
    f.write('[[credit.shares]]\nrevenue = { sales = 90, service = 10 }\noverlay = { service = 5 }\n')
