"""The catch-up benchmark (issue 9): how fast a flow drains many due windows after downtime.

A table of `--windows` × `--rows-per-window` rows, stamped evenly over that many 15-minute
windows; a 15-minute flow with a delta column whose start lies that many windows back
(the flow clock is a file, moved past them all at once). Timed from the moment the
windows become due until every run is `success`, with one `inlet serve` on SQLite and
with two on one PostgreSQL metadata store. Every window's rows are checked to be in the
dataset exactly once. Reported: seconds, windows per second, and the per-run overhead
(wall time per window, minus nothing: 200-row windows are almost all overhead).

Run it through `bench/run --catchup` (which installs what is needed and builds inlet), or
directly: python3 bench/catchup.py --inlet target/release/inlet
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pyarrow.compute as pc  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

from flow import FLOW, FLOW_SPEC, ORG, Api, _cli, _setup, peak_rss_kib  # noqa: E402
from pg import PgServer  # noqa: E402

START = 1_735_689_600  # 2025-01-01T00:00:00Z, well before the source's clock
PERIOD = 900
CONFIG = 'settle_lag = "0s"\n'


def log(message):
    print(f"[catchup] {message}", flush=True)


def serve(inlet, env, data_dir, work, name, clock, metadata_url, extra=""):
    config = os.path.join(work, f"{name}.toml")
    with open(config, "w") as f:
        f.write(CONFIG + extra)
    command = [inlet, "serve", "--config", config, "--data-dir", data_dir, "--listen", "127.0.0.1:0"]
    if metadata_url:
        command += ["--metadata-url", metadata_url]
    with open(os.path.join(work, f"{name}.log"), "w") as log_file:
        server = subprocess.Popen(command, env={**env, "INLET_CLOCK_FILE": clock}, stdout=subprocess.PIPE,
                                  stderr=log_file, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("inlet listening on "):
        raise RuntimeError(f"inlet serve did not start: {line!r}")
    return server, line.removeprefix("inlet listening on ")


def windowed_flow(inlet, where, base, pg, table):
    """A client of a fresh server at `base` (`where`: its environment, data directory and
    metadata-store flags), connections to `table`, and a 15-minute flow from START windowed
    by its `at` column; returns (api, flow id, dataset id)."""
    env, data_dir, metadata = where
    client = json.loads(_cli(inlet, env, data_dir, "clients", "create", "--org", ORG, "--name", "b", *metadata))
    token = _cli(inlet, env, data_dir, "token", "--org", ORG, "--client-id", client["client_id"], *metadata)
    api = Api(base, client["client_id"], token)
    source, target, dataset = _setup(api, pg, table)
    flow_id = api.created(f"{FLOW}/flows", {
        "name": f"{table} windows", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "at"}}}],
        "scheduleParams": {"startTime": str(START), "frequency": "minute", "interval": "15"}})["id"]
    return api, flow_id, dataset


def exact(location, rows):
    """Whether the table holds ids 0..rows-1 once each (read by the deltalake package)."""
    ids = DeltaTable(location).to_pyarrow_table(columns=["id"]).column("id")
    count, distinct, total = len(ids), pc.count_distinct(ids).as_py(), pc.sum(ids).as_py() or 0
    ok = count == rows and distinct == rows and total == rows * (rows - 1) // 2
    return ok, f"{count} rows, {distinct} distinct ids"


def runs_of(api, flow_id):
    """Every run of the flow, following the list's pages."""
    items, path = [], f"{FLOW}/runs?property=flowId=={flow_id}&limit=100"
    while path:
        status, reply = api.call("GET", path)
        if status != 200:
            raise RuntimeError(f"GET runs: {status} {reply}")
        items += reply["items"]
        href = reply.get("_links", {}).get("next", {}).get("href")
        path = f"{FLOW}{href}" if href else None
    return items


def last_landed(api, flow_id, window):
    """Whether the flow's runs up to `window` all succeeded; raises on any failed run."""
    status, reply = api.call("GET", f"{FLOW}/runs?property=flowId=={flow_id}&property=metrics.statusSummary.status==failed&limit=1")
    if status != 200:
        raise RuntimeError(f"GET runs: {status} {reply}")
    if reply["items"]:
        raise RuntimeError(f"a run failed: {json.dumps(reply['items'][0])[:500]}")
    # Windows landed together are recorded one after another: count them all.
    status, reply = api.call(
        "GET", f"{FLOW}/runs?property=flowId=={flow_id}&property=metrics.statusSummary.status==success&count=true")
    if status != 200:
        raise RuntimeError(f"GET runs: {status} {reply}")
    return reply["count"] >= window


def one_case(args, pg, case, work):
    processes, together = case
    # BENCH_INLET_LOG=info and BENCH_LOGS=<dir> keep the servers' logs, to see where time goes.
    env = {**os.environ, "INLET_LOG": os.environ.get("BENCH_INLET_LOG", "warn")}
    data_dir, clock = os.path.join(work, "data"), os.path.join(work, "clock")
    with open(clock, "w") as f:
        f.write(str(START - 60))
    metadata_url = None
    if processes > 1:
        pg.psql("postgres", "DROP DATABASE IF EXISTS meta")
        pg.psql("postgres", "CREATE DATABASE meta")
        metadata_url = pg.url("meta")
    metadata = ["--metadata-url", metadata_url] if metadata_url else []
    servers = []
    try:
        for index in range(processes):
            extra = f"catch_up_windows = {together}\n"
            servers.append(serve(args.inlet, env, data_dir, work, f"serve-{index}", clock, metadata_url, extra))
        base = servers[0][1]
        api, flow_id, dataset = windowed_flow(args.inlet, (env, data_dir, metadata), base, pg, "ticks")
        started = time.monotonic()
        with open(clock + ".new", "w") as f:
            f.write(str(START + args.windows * PERIOD))
        os.replace(clock + ".new", clock)
        # Polled lightly (the last window's run and any failed run): listing every run
        # five times a second would take the 2-core machine from the runs measured.
        while not last_landed(api, flow_id, args.windows):
            if time.monotonic() - started > 3600:
                raise RuntimeError(f"the {args.windows} windows did not land in an hour")
            time.sleep(0.2)
        wall = time.monotonic() - started
        runs = runs_of(api, flow_id)
        if any(r["metrics"]["statusSummary"]["status"] != "success" for r in runs):
            raise RuntimeError(f"a run did not succeed: {[r for r in runs if r['metrics']['statusSummary']['status'] != 'success'][:1]}")
        rss = max(peak_rss_kib(server.pid) or 0 for server, _ in servers)
        windows = sorted(r["windowNumber"] for r in runs)
        _, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
        location = item[dataset]["location"].removeprefix("file://")
        expected = {"rows": args.windows * args.rows_per_window}
        ok, note = exact(location, expected["rows"])
        ok = ok and windows == list(range(1, args.windows + 1))
        return {"processes": processes, "catch_up_windows": together, "windows": args.windows, "wall_s": round(wall, 2),
                "windows_per_s": round(args.windows / wall, 1), "per_run_ms": round(wall * 1000 / args.windows, 1),
                "rss_kib": rss, "ok": ok, "note": note}
    finally:
        for server, _ in servers:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        if os.environ.get("BENCH_LOGS"):
            for index in range(processes):
                name = f"serve-{index}.log"
                shutil.copy(os.path.join(work, name), os.path.join(os.environ["BENCH_LOGS"], f"{processes}-{together}-{name}"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--windows", type=int, default=500)
    p.add_argument("--rows-per-window", type=int, default=200)
    p.add_argument("--processes", default="1,2", help="comma-separated process counts (2+: PostgreSQL metadata)")
    p.add_argument("--catch-up-windows", default="50",
                   help="comma-separated catch_up_windows settings (1: each window in its own commit)")
    p.add_argument("--no-index", action="store_true", help="leave the delta column without an index")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    rows = args.windows * args.rows_per_window
    step = PERIOD / args.rows_per_window
    results = []
    # A delta column is indexed as a rule: without, each window's query scans the table.
    index = "" if args.no_index else "CREATE INDEX ON ticks (at); "
    with PgServer() as pg:
        pg.psql("bench", f"CREATE TABLE ticks (id bigint PRIMARY KEY, at timestamptz NOT NULL); "
                         f"INSERT INTO ticks SELECT g, to_timestamp({START} + g * {step}) "
                         f"FROM generate_series(0, {rows - 1}) g; {index}ANALYZE ticks;")
        cases = [(int(p), int(w)) for p in args.processes.split(",") for w in args.catch_up_windows.split(",")]
        for case in cases:
            with tempfile.TemporaryDirectory(prefix="inlet-catchup-") as work:
                result = one_case(args, pg, case, work)
            log(json.dumps(result))
            results.append(result)
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-catchup"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"windows": args.windows, "rows_per_window": args.rows_per_window, "results": results}, f, indent=1)
    lines = [f"# Catch-up: {args.windows} due windows of {args.rows_per_window} rows ({datetime.date.today()})", "",
             "| processes | metadata | catch_up_windows | wall | windows/s | per window | peak RSS | exact |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        store = "SQLite" if r["processes"] == 1 else "PostgreSQL"
        lines.append(f"| {r['processes']} | {store} | {r['catch_up_windows']} | {r['wall_s']} s | {r['windows_per_s']} | {r['per_run_ms']} ms | "
                     f"{r['rss_kib'] // 1024} MiB | {'yes' if r['ok'] else 'NO: ' + r['note']} |")
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
