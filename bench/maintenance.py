"""The maintenance benchmark (issue 21): a flow of many small due windows (the issue's
2,000 quarter hours of 100 rows) drained by one `inlet serve`, with table maintenance on
(every 2 s) and off. Reported per case: catch-up seconds and windows per second, the per-run
cost (median ms between consecutive windows' completions) of the first 50 windows against
the last 50, the table's data files, bytes and log entries after the catch-up, and the time
the independent reader (the Python `deltalake` package) takes to open it. Then one
`POST /dataSets/{id}/action?op=maintain` is timed, with files and bytes before and after
its compaction, and the reader's open time again. Every row is checked to be in the
dataset exactly once, and after the compaction also read by DuckDB's `delta` extension when
it loads offline: DuckDB cannot download it here, but PyPI ships it as a wheel for DuckDB
1.5 (`pip install --target <dir> "duckdb==1.5.*" "duckdb-extension-delta==1.5.5"`, then
`--duckdb <dir>`).

Run it through `bench/run --maintenance`, or directly:
python3 bench/maintenance.py --inlet target/release/inlet --windows 2000
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pyarrow  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

import catchup  # noqa: E402
from catchup import PERIOD, START, exact, serve  # noqa: E402
from flow import FLOW  # noqa: E402
from pg import PgServer  # noqa: E402


def log(message):
    print(f"[maintenance] {message}", flush=True)


def open_seconds(location):
    """Median of three opens of the table by the independent reader."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        DeltaTable(location)
        times.append(time.monotonic() - started)
    return round(statistics.median(times), 3)


def table_state(location):
    table = DeltaTable(location)
    adds = pyarrow.table(table.get_add_actions(flatten=True)).to_pydict()
    return {"version": table.version(), "files": len(adds["path"]), "bytes": sum(adds["size_bytes"]),
            "log_json": len([n for n in os.listdir(os.path.join(location, "_delta_log")) if n.endswith(".json")])}


DUCKDB_READ = """
import glob, sys
import duckdb
ext = glob.glob(sys.argv[1] + '/duckdb_extension_delta/extensions/*/delta.duckdb_extension')[0]
c = duckdb.connect(config={'allow_unsigned_extensions': 'true'})
c.execute(f"LOAD '{ext}'")
print(c.execute("SELECT count(*), count(DISTINCT id), sum(id) FROM delta_scan(?)", [sys.argv[2]]).fetchone())
"""


def duckdb_exact(site, location, rows):
    """Whether DuckDB's delta_scan reads ids 0..rows-1 once each; None without `--duckdb`."""
    if not site:
        return None
    out = subprocess.run([sys.executable, "-c", DUCKDB_READ, site, location], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": site})
    if out.returncode != 0:
        raise RuntimeError(f"DuckDB could not read the table: {out.stderr[-500:]}")
    return out.stdout.strip() == str((rows, rows, rows * (rows - 1) // 2))


def completions(api, flow_id):
    """completedAtUTC of every run, by window number (the list's pages followed)."""
    return {r["windowNumber"]: r["metrics"]["durationSummary"].get("completedAtUTC")
            for r in catchup.runs_of(api, flow_id)}


def per_run_ms(done, windows):
    """Median ms between consecutive windows' completions, for windows 2-50 and the last 49."""
    gaps = {w: done[w] - done[w - 1] for w in range(2, windows + 1) if done.get(w) and done.get(w - 1)}
    first = [gaps[w] for w in range(2, min(51, windows + 1)) if w in gaps]
    last = [gaps[w] for w in range(max(2, windows - 48), windows + 1) if w in gaps]
    return statistics.median(first), statistics.median(last)


def one_case(args, pg, work, maintenance):
    catchup.CONFIG = f'settle_lag = "0s"\ncatch_up_windows = {args.catch_up_windows}\n' + (
        'maintenance_interval = "2s"\n' if maintenance else "maintenance = false\n")
    env = {**os.environ, "INLET_LOG": "warn"}
    data_dir, clock = os.path.join(work, "data"), os.path.join(work, "clock")
    with open(clock, "w") as f:
        f.write(str(START - 60))
    server, base = serve(args.inlet, env, data_dir, work, "serve", clock, None)
    try:
        api, flow_id, dataset = catchup.windowed_flow(args.inlet, (env, data_dir, []), base, pg, "ticks")
        started = time.monotonic()
        with open(clock + ".new", "w") as f:
            f.write(str(START + args.windows * PERIOD))
        os.replace(clock + ".new", clock)
        while not catchup.last_landed(api, flow_id, args.windows):
            if time.monotonic() - started > 3600:
                raise RuntimeError("the windows did not land in an hour")
            time.sleep(0.5)
        wall = time.monotonic() - started
        first_ms, last_ms = per_run_ms(completions(api, flow_id), args.windows)
        _, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
        location = item[dataset]["location"].removeprefix("file://")
        rows = args.windows * args.rows_per_window
        ok, note = exact(location, rows)
        before = table_state(location)
        before["open_s"] = open_seconds(location)
        started = time.monotonic()
        status, reply = api.call("POST", f"/data/foundation/catalog/dataSets/{dataset}/action?op=maintain")
        action_s = round(time.monotonic() - started, 2)
        if status != 200:
            raise RuntimeError(f"maintain: {status} {reply}")
        after = table_state(location)
        after["open_s"] = open_seconds(location)
        ok_after, note_after = exact(location, rows)
        duckdb_ok = duckdb_exact(args.duckdb, location, rows)
        return {"maintenance": maintenance, "windows": args.windows, "wall_s": round(wall, 2),
                "windows_per_s": round(args.windows / wall, 1), "first50_ms": round(first_ms),
                "last50_ms": round(last_ms), "before": before, "action_s": action_s,
                "compaction": reply["maintenance"]["compaction"], "after": after,
                "duckdb": duckdb_ok, "ok": ok and ok_after and duckdb_ok is not False, "note": f"{note}; after the action: {note_after}"}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except Exception:
            server.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--windows", type=int, default=2000)
    p.add_argument("--rows-per-window", type=int, default=100)
    p.add_argument("--cases", default="on,off", help="maintenance on, off or both (comma-separated)")
    p.add_argument("--duckdb", help="a directory holding duckdb 1.5 and duckdb-extension-delta (see above)")
    p.add_argument("--catch-up-windows", type=int, default=1,
                   help="catch_up_windows (default 1: a commit per window, so that the per-run cost is per commit "
                        "and the log grows by one entry per window)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    rows = args.windows * args.rows_per_window
    step = PERIOD / args.rows_per_window
    results = []
    with PgServer() as pg:
        pg.psql("bench", f"CREATE TABLE ticks (id bigint PRIMARY KEY, at timestamptz NOT NULL); "
                         f"INSERT INTO ticks SELECT g, to_timestamp({START} + g * {step}) "
                         f"FROM generate_series(0, {rows - 1}) g; ANALYZE ticks;")
        for case in args.cases.split(","):
            with tempfile.TemporaryDirectory(prefix="inlet-maintenance-") as work:
                result = one_case(args, pg, work, case == "on")
            log(json.dumps(result))
            results.append(result)
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-maintenance"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"windows": args.windows, "rows_per_window": args.rows_per_window, "results": results}, f, indent=1)
    lines = [f"# Maintenance: {args.windows} due windows of {args.rows_per_window} rows ({datetime.date.today()})", "",
             "| maintenance | wall | windows/s | per run 1-50 / last 50 | files, bytes, JSON log entries | reader open | "
             "action | compaction | after: files, bytes | reader open | DuckDB | exact |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        b, a, c = r["before"], r["after"], r["compaction"] or {}
        compaction = f"{c.get('filesRemoved', 0)} → {c.get('filesAdded', 0)} files in {c.get('millis', 0)} ms"
        lines.append(f"| {'on' if r['maintenance'] else 'off'} | {r['wall_s']} s | {r['windows_per_s']} | "
                     f"{r['first50_ms']} / {r['last50_ms']} ms | {b['files']}, {b['bytes']:,}, {b['log_json']} | "
                     f"{b['open_s']} s | {r['action_s']} s | {compaction} | {a['files']}, {a['bytes']:,} | "
                     f"{a['open_s']} s | {({None: 'not run', True: 'same rows'}).get(r['duckdb'], 'DIFFERENT')} | "
                     f"{'yes' if r['ok'] else 'NO: ' + r['note']} |")
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
