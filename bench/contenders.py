"""The contenders, each run as its own process(es) and measured the same way: wall time
from start to end as seen by the harness, peak RSS as GNU time's "Maximum resident set size"
(`/usr/bin/time -v`; every contender here is one process, threads included), except the
flow, whose server's peak RSS is its VmHWM read from /proc just after the run.

Each function returns a dict: wall_s, rss_kib, ok, note, and `location` for the Delta
table an Inlet run wrote (checked afterwards by check.py, outside the timing).
"""

import json
import os
import re
import subprocess
import sys
import time

import flow

HERE = os.path.dirname(os.path.abspath(__file__))
TIME = "/usr/bin/time"


def measure(cmd, env=None, log_path=None, stdout=None):
    """Runs `cmd` under `/usr/bin/time -v`; returns (exit code, wall seconds, max RSS KiB,
    stdout text or None)."""
    with open(log_path or os.devnull, "w") as log:
        stats = (log_path or "/tmp/inlet-bench") + ".time"
        full = [TIME, "-v", "-o", stats, *cmd]
        started = time.monotonic()
        proc = subprocess.run(full, env=env, stdout=stdout or subprocess.PIPE, stderr=log)
        wall = time.monotonic() - started
    with open(stats) as f:
        text = f.read()
    os.unlink(stats)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rss = int(match.group(1)) if match else None
    out = proc.stdout.decode(errors="replace") if proc.stdout is not None else None
    return proc.returncode, wall, rss, out


def _tail(path, lines=5):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def limit(ctx, table, work):
    """psql over TCP: COPY t TO STDOUT (FORMAT binary) > /dev/null."""
    log = os.path.join(work, "psql.log")
    with open(os.devnull, "wb") as devnull:
        code, wall, rss, _ = measure(ctx.pg.tcp_psql_cmd(f"COPY {table} TO STDOUT (FORMAT binary)"),
                                     env=ctx.pg.tcp_env(), log_path=log, stdout=devnull)
    ok = code == 0
    return {"wall_s": wall, "rss_kib": rss, "ok": ok, "note": "" if ok else _tail(log)}


def _inlet_env():
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("INLET_"):
            del env[name]
    return env


def inlet_copy(ctx, table, work):
    """inlet copy --source ... --table public.t --to <fresh dir>."""
    target = os.path.join(work, "lake", table)
    log = os.path.join(work, "inlet-copy.log")
    cmd = [ctx.inlet, "copy", "--source", ctx.pg.url(), "--table", f"public.{table}", "--to", target]
    code, wall, rss, out = measure(cmd, env=_inlet_env(), log_path=log)
    ok = code == 0
    note = (out or "").strip() if ok else f"exit {code}: {_tail(log)}"
    return {"wall_s": wall, "rss_kib": rss, "ok": ok, "note": note, "location": target if ok else None}


def inlet_flow(ctx, table, work):
    """inlet serve, then a `once` flow over HTTP; timed from POST /flows to `success`."""
    return flow.run_once_flow(ctx.inlet, _inlet_env(), ctx.pg, table, work)


def connectorx(partitions):
    def run(ctx, table, work):
        target = os.path.join(work, "cx", table)
        log = os.path.join(work, "cx.log")
        url = ctx.pg.url().replace("postgres://", "postgresql://", 1)
        cmd = [sys.executable, os.path.join(HERE, "cx_load.py"), url, table,
               ctx.partition_on[table], str(partitions), target]
        code, wall, rss, out = measure(cmd, log_path=log)
        if code != 0:
            return {"wall_s": wall, "rss_kib": rss, "ok": False, "note": f"exit {code}: {_tail(log)}"}
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"wall_s": wall, "rss_kib": rss, "ok": False, "note": f"no result: {_tail(log)}"}
        rows_ok = result["rows"] == ctx.rows[table]
        note = f"read {result['read_s']} s, write {result['write_s']} s"
        if not rows_ok:
            note = f"{result['rows']} rows, expected {ctx.rows[table]}; " + note
        return {"wall_s": wall, "rss_kib": rss, "ok": rows_ok, "note": note,
                "cx_schema": result["schema"]}
    return run


CONTENDERS = {
    "limit": limit,
    "inlet copy": inlet_copy,
    "inlet flow": inlet_flow,
    "ConnectorX 1 partition": connectorx(1),
    "ConnectorX 2 partitions": connectorx(2),
}
CHECKED = ("inlet copy", "inlet flow")
