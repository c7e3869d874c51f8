"""`--profile`: one `inlet copy` of `lineitem_1m` under `perf record` where the CPU's
counters are usable (`perf stat -e instructions true` counts instructions), otherwise under
`valgrind --tool=callgrind`; returns the top entries by self cost.
"""

import os
import re
import shutil
import subprocess
import time

TOP = 20


def perf_works():
    if not shutil.which("perf"):
        return False
    out = subprocess.run(["perf", "stat", "-x", ",", "-e", "instructions", "true"],
                         capture_output=True, text=True)
    return out.returncode == 0 and "not supported" not in out.stderr and "<not counted>" not in out.stderr


def _perf(cmd, env, work):
    data = os.path.join(work, "perf.data")
    subprocess.run(["perf", "record", "-F", "999", "-o", data, "--", *cmd], env=env,
                   capture_output=True, check=True)
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                             "--sort", "dso,symbol", "--percent-limit", "0.1"],
                            capture_output=True, text=True, check=True).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)", line)
        if m:
            rows.append({"share": float(m.group(1)), "object": m.group(2), "symbol": m.group(3).strip()})
    return rows[:TOP], "perf record -F 999 (cycles), self time by symbol"


def _callgrind(cmd, env, work):
    out_file = os.path.join(work, "callgrind.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *cmd],
                   env=env, capture_output=True, check=True)
    report = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out_file],
                            capture_output=True, text=True, check=True).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        rest, obj = m.group(3).strip(), ""
        found = re.match(r"(.*) \[([^\]]*)\]$", rest)
        if found:
            rest, obj = found.group(1), os.path.basename(found.group(2))
        symbol = rest.split(":", 1)[1] if ":" in rest else rest
        rows.append({"share": float(m.group(2)), "object": obj, "symbol": symbol})
    rows.sort(key=lambda r: -r["share"])
    return rows[:TOP], "valgrind --tool=callgrind, self instructions (Ir) by function"


def profile(inlet, url, table, env, work):
    """{tool, method, seconds, entries: [{share, object, symbol}]}."""
    os.makedirs(work, exist_ok=True)
    cmd = [inlet, "copy", "--source", url, "--table", f"public.{table}", "--to", os.path.join(work, "lake", table)]
    started = time.monotonic()
    if perf_works():
        entries, method = _perf(cmd, env, work)
        tool = "perf"
    else:
        entries, method = _callgrind(cmd, env, work)
        tool = "callgrind"
    return {"tool": tool, "method": method, "table": table, "seconds": round(time.monotonic() - started, 1),
            "entries": entries}
