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
import s3 as s3mod

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


def partitions():
    """How many partitions Inlet reads a table in by default: one per core."""
    return os.cpu_count() or 1


def n_stream_limit(ctx, table, work):
    """The COPY split into as many ctid ranges as Inlet reads partitions, each its own psql
    over TCP to /dev/null, all started at once; timed until the last ends. Peak RSS is
    the largest psql's."""
    n = partitions()
    pages = ctx.pg.query(f"SELECT pg_relation_size('public.{table}') / current_setting('block_size')::int")[0][0]
    bounds = [pages * i // n for i in range(n)] + [None]
    procs, stats = [], []
    started = time.monotonic()
    with open(os.devnull, "wb") as devnull:
        for i in range(n):
            where = f"ctid >= '({bounds[i]},0)'::tid"
            if bounds[i + 1] is not None:
                where += f" AND ctid < '({bounds[i + 1]},0)'::tid"
            sql = f"COPY (SELECT * FROM public.{table} WHERE {where}) TO STDOUT (FORMAT binary)"
            stat = os.path.join(work, f"stream-{i}.time")
            stats.append(stat)
            procs.append(subprocess.Popen([TIME, "-v", "-o", stat, *ctx.pg.tcp_psql_cmd(sql)],
                                          env=ctx.pg.tcp_env(), stdout=devnull, stderr=subprocess.DEVNULL))
        codes = [p.wait() for p in procs]
    wall = time.monotonic() - started
    rss = []
    for stat in stats:
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(stat).read())
        rss.append(int(match.group(1)) if match else 0)
    ok = all(code == 0 for code in codes)
    return {"wall_s": wall, "rss_kib": max(rss), "ok": ok, "note": f"{n} streams" + ("" if ok else f", exits {codes}")}


def _s3_env(ctx):
    if ctx.s3 is None:
        raise RuntimeError("no S3 server (bench.py starts one for the S3 contenders)")
    return {**_inlet_env(), **ctx.s3.env()}


def _s3_prefix(work):
    """A prefix of its own for each run, in the benchmark's bucket."""
    return f"s3://{s3mod.BUCKET}/{os.path.basename(work)}"


def inlet_copy_s3(ctx, table, work):
    """inlet copy --to s3://bench/<run>/<table>, on the benchmark's S3 server."""
    target = f"{_s3_prefix(work)}/{table}"
    log = os.path.join(work, "inlet-copy.log")
    cmd = [ctx.inlet, "copy", "--source", ctx.pg.url(), "--table", f"public.{table}", "--to", target]
    code, wall, rss, out = measure(cmd, env=_s3_env(ctx), log_path=log)
    ok = code == 0
    note = (out or "").strip() if ok else f"exit {code}: {_tail(log)}"
    return {"wall_s": wall, "rss_kib": rss, "ok": ok, "note": note, "location": target if ok else None}


def inlet_flow_s3(ctx, table, work):
    """The `inlet flow` contender with `--lake-root s3://bench/<run>`."""
    return flow.run_once_flow(ctx.inlet, _s3_env(ctx), ctx.pg, table, work, lake_root=_s3_prefix(work))


def s3_upload(ctx, table, work):
    """The S3 server alone, for the bytes of this table's Delta table (bench/s3_upload.py)."""
    source = ctx.local_table(table)
    log = os.path.join(work, "s3-upload.log")
    target = f"{s3mod.BUCKET}/{os.path.basename(work)}/{table}"
    cmd = [sys.executable, os.path.join(HERE, "s3_upload.py"), source, target]
    code, wall, rss, out = measure(cmd, env={**os.environ, **ctx.s3.env()}, log_path=log)
    if code != 0:
        return {"wall_s": wall, "rss_kib": rss, "ok": False, "note": f"exit {code}: {_tail(log)}"}
    result = json.loads(out.strip().splitlines()[-1])
    note = f"{result['files']} files, {result['bytes'] / 1e6:,.0f} MB, {result['bytes'] / 1e6 / wall:,.0f} MB/s"
    return {"wall_s": wall, "rss_kib": rss, "ok": True, "note": note}


def duckdb(kind):
    """DuckDB's postgres extension, writing Parquet (DuckDB's writer) or Delta (deltalake)."""
    def run(ctx, table, work):
        target = os.path.join(work, "duckdb", table)
        log = os.path.join(work, "duckdb.log")
        url = ctx.pg.url().replace("postgres://", "postgresql://", 1)
        cmd = [sys.executable, os.path.join(HERE, "duckdb_load.py"), url, table, kind, target, str(partitions())]
        code, wall, rss, out = measure(cmd, log_path=log)
        if code != 0:
            return {"wall_s": wall, "rss_kib": rss, "ok": False, "note": f"exit {code}: {_tail(log)}"}
        rows = json.loads(out.strip().splitlines()[-1])["rows"]
        ok = rows == ctx.rows[table]
        return {"wall_s": wall, "rss_kib": rss, "ok": ok, "note": "" if ok else f"{rows} rows, expected {ctx.rows[table]}"}
    return run


CONTENDERS = {
    "limit": limit,
    "N-stream limit": n_stream_limit,
    "inlet copy": inlet_copy,
    "inlet flow": inlet_flow,
    "inlet copy s3": inlet_copy_s3,
    "inlet flow s3": inlet_flow_s3,
    "S3 upload alone": s3_upload,
    "DuckDB Parquet": duckdb("parquet"),
    "DuckDB Delta": duckdb("delta"),
    "ConnectorX 1 partition": connectorx(1),
    "ConnectorX 2 partitions": connectorx(2),
}
CHECKED = ("inlet copy", "inlet flow", "inlet copy s3", "inlet flow s3")
NEEDS_S3 = ("inlet copy s3", "inlet flow s3", "S3 upload alone")
