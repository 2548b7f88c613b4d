#!/usr/bin/env python3
"""Data for the store benchmark (bench/store.sh): N clients over 84 regions cut into 7
territories, 19 employees, a scheme with two roles (sales: a VIP pool, then the territory's
dealer manager; service: the territory's engineer), and `moved.csv`: 1% of the clients with a
region in the next territory, so that re-importing it moves about 1% of the links.

usage: store_data.py N OUT_DIR"""
import os
import sys

n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
regions = [f"R{i:02d}" for i in range(84)]
territories = [regions[i * 12:(i + 1) * 12] for i in range(7)]

with open(os.path.join(out, "employees.csv"), "w", encoding="utf-8") as f:
    f.write("id,name,teams\n")
    for t in range(7):
        f.write(f"dealer{t},Дилер {t},dealers\n")
        f.write(f"engineer{t},Инженер {t},service\n")
    for v in range(5):
        f.write(f"vip{v},Менеджер VIP {v},vip\n")

with open(os.path.join(out, "scheme.toml"), "w", encoding="utf-8") as f:
    f.write('name = "store benchmark"\n\n[columns]\nsignificance = "text"\n\n')
    for t, regs in enumerate(territories):
        vals = ", ".join(f'"{r}"' for r in regs)
        f.write(f'[[territories]]\nid = "t{t}"\nattribute = "region"\nvalues = [{vals}]\n')
        f.write(f'owners = {{ sales = "dealer{t}", service = "engineer{t}" }}\n\n')
    f.write('[[rules]]\nid = "vip"\nrole = "sales"\nwhen = \'significance == "vip"\'\nteam = "vip"\nstrategy = "balance-potential"\n\n')
    f.write('[[rules]]\nid = "dealers"\nrole = "sales"\nterritory_owner = true\n\n')
    f.write('[[rules]]\nid = "service"\nrole = "service"\nterritory_owner = true\n')


def row(i, region):
    sig = "vip" if i % 50 == 0 else "regular"
    return f"c{i:08d},Клиент {i},{region},{sig},{(i * 7919 % 1000 + 1) * 1000}\n"


header = "id,name,region,significance,potential\n"
with open(os.path.join(out, "clients.csv"), "w", encoding="utf-8") as f, \
        open(os.path.join(out, "moved.csv"), "w", encoding="utf-8") as m:
    f.write(header)
    m.write("id,region\n")
    for i in range(n):
        region = regions[(i * 31) % 84]
        f.write(row(i, region))
        if i % 100 == 7:
            m.write(f"c{i:08d},{regions[((i * 31) % 84 + 12) % 84]}\n")
