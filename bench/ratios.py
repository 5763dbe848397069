"""Print a hyperfine result side by side: each command's median wall time and mean CPU time
(user + system), and the first command's figure divided by it (how many times minidocker's it
takes). CPU time is the steadier figure on a busy machine.   ratios.py RESULT.json"""
import json
import sys

results = json.load(open(sys.argv[1]))["results"]
rows = [(r["command"], r["median"] * 1000, (r["user"] + r["system"]) * 1000) for r in results]
first, wall0, cpu0 = rows[0]
width = max(len(name) for name, _, _ in rows) + 2
print(f"\n{'command':<{width}} {'median ms':>10} {first + ' / it':>16} {'cpu ms':>9} {first + ' / it':>16}")
for name, wall, cpu in rows:
    print(f"{name:<{width}} {wall:>10.1f} {wall0 / wall:>16.2f} {cpu:>9.1f} {cpu0 / cpu:>16.2f}")
