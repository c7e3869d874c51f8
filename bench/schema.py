"""The schema change benchmark (issue 19): what each kind of source schema change costs a
delta column flow whose dataset holds `--rows` rows.

A table of `--rows` rows stamped in the flow's first 15-minute window lands in window 1.
Then, before each later window, one change is made at the source (none, a column added,
int -> bigint, numeric(10,2) -> numeric(14,2), varchar(20) -> text, a column dropped, a
column renamed, none again) and `--window-rows` rows are inserted in that window; the
flow clock (a file) makes the window due and the run is timed from its own
`durationSummary` (started to completed). A widening rewrites every file of the dataset in
the run's commit (docs/lake.md), so its cost grows with the dataset; the others only change
the schema. After every run the dataset is checked with the `deltalake` package: every id
once, and the column types the change should leave.

Run it through `bench/run --schema` (which installs what is needed and builds inlet), or
directly: python3 bench/schema.py --inlet target/release/inlet
"""

import argparse
import datetime
import json
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pyarrow.compute as pc  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

from catchup import PERIOD, START, runs_of, serve, windowed_flow  # noqa: E402
from pg import PgServer  # noqa: E402

# (name, DDL, the columns and values of the window's rows, a column and the type it must have after)
CASES = [
    ("no change", None, "n", "1", ("n", "int32")),
    ("column added", "ALTER TABLE wide ADD COLUMN extra text", "n, extra", "1, 'x'", ("extra", "string")),
    ("int -> bigint", "ALTER TABLE wide ALTER COLUMN n TYPE bigint", "n", "3000000000", ("n", "int64")),
    ("numeric(10,2) -> numeric(14,2)", "ALTER TABLE wide ALTER COLUMN amount TYPE numeric(14,2)", "n, amount",
     "1, 123456789012.34", ("amount", "decimal128(14, 2)")),
    ("varchar(20) -> text", "ALTER TABLE wide ALTER COLUMN label TYPE text", "n, label", "1, repeat('z', 50)",
     ("label", "string")),
    ("column dropped", "ALTER TABLE wide DROP COLUMN note", "n", "1", ("note", "string")),
    ("column renamed", "ALTER TABLE wide RENAME COLUMN old_name TO new_name", "n, new_name", "1, 'r'",
     ("new_name", "string")),
    ("no change (again)", None, "n", "1", ("n", "int64")),
]


def log(message):
    print(f"[schema] {message}", flush=True)


def schema_of(location):
    return {f.name: str(f.type) for f in DeltaTable(location).to_pyarrow_table().schema}


def wait_for(api, flow_id, window):
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        runs = {r["windowNumber"]: r for r in runs_of(api, flow_id)}
        run = runs.get(window)
        state = run and run["metrics"]["statusSummary"]["status"]
        if state == "success":
            return run
        if state == "failed":
            raise RuntimeError(f"window {window} failed: {json.dumps(run)[:800]}")
        time.sleep(0.1)
    raise RuntimeError(f"window {window} did not land in an hour")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--window-rows", type=int, default=1000)
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    results, schemas = [], {}
    with PgServer() as pg, tempfile.TemporaryDirectory(prefix="inlet-schema-") as work:
        pg.psql("bench", f"""CREATE TABLE wide (id bigint PRIMARY KEY, n int NOT NULL, amount numeric(10,2),
                label varchar(20), note text, old_name text, at timestamptz NOT NULL);
            INSERT INTO wide SELECT g, g % 1000, g / 100.0, 'label ' || (g % 97), 'note ' || g, 'old ' || g,
                to_timestamp({START} + g * {PERIOD - 1} / {args.rows}) FROM generate_series(0, {args.rows - 1}) g;
            ANALYZE wide;""")
        env = {**os.environ, "INLET_LOG": "warn"}
        data_dir, clock = os.path.join(work, "data"), os.path.join(work, "clock")
        with open(clock, "w") as f:
            f.write(str(START - 60))
        server, base = serve(args.inlet, env, data_dir, work, "serve", clock, None)
        try:
            api, flow_id, dataset = windowed_flow(args.inlet, (env, data_dir, []), base, pg, "wide")
            _, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
            location = item[dataset]["location"].removeprefix("file://")
            next_id = args.rows
            for window in range(1, len(CASES) + 2):
                case = CASES[window - 2] if window > 1 else ("first window", None, None, None, ("id", "int64"))
                name, ddl, columns, values, (column, wanted) = case
                if ddl:
                    pg.psql("bench", ddl)
                if columns:
                    stamp = START + (window - 1) * PERIOD
                    pg.psql("bench", f"INSERT INTO wide (id, at, {columns}) SELECT g, to_timestamp({stamp} + (g % 800)), "
                                     f"{values} FROM generate_series({next_id}, {next_id + args.window_rows - 1}) g")
                    next_id += args.window_rows
                if window == 2:
                    schemas["before"] = schema_of(location)
                with open(clock + ".new", "w") as f:
                    f.write(str(START + window * PERIOD + 1))
                os.replace(clock + ".new", clock)
                run = wait_for(api, flow_id, window)
                summary = run["metrics"]["durationSummary"]
                ms = summary["completedAtUTC"] - summary["startedAtUTC"]
                ids = DeltaTable(location).to_pyarrow_table(columns=["id"]).column("id")
                exact = len(ids) == next_id and pc.count_distinct(ids).as_py() == next_id
                schema = schema_of(location)
                ok = exact and schema.get(column) == wanted
                changes = [f"{c['column']} {c['kind']} {c['action']}" for c in run.get("inletSchemaChanges", [])]
                result = {"case": name, "window": window, "run_ms": ms, "rows": next_id,
                          "files": len(DeltaTable(location).file_uris()), "changes": changes, "ok": ok}
                log(json.dumps(result))
                results.append(result)
            schemas["after"] = schema_of(location)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    plain = [r["run_ms"] for r in results if r["case"].startswith("no change")]
    baseline = sum(plain) / len(plain)
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-schema"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"rows": args.rows, "window_rows": args.window_rows, "results": results, "schemas": schemas}, f,
                  indent=1)
    lines = [f"# Schema changes on a {args.rows:,}-row dataset, {args.window_rows:,} rows a window "
             f"({datetime.date.today()})", "",
             f"A run with no change: {baseline:.0f} ms (the mean of the two). Run times are the runs' own "
             "durationSummary, from `bench/run --schema`.", "",
             "| window | change | run | × no change | files after | recorded | exact |",
             "|---:|---|---:|---:|---:|---|---|"]
    for r in results:
        ratio = f"{r['run_ms'] / baseline:.1f}×" if baseline else "-"
        lines.append(f"| {r['window']} | {r['case']} | {r['run_ms']} ms | {ratio} | {r['files']} | "
                     f"{'; '.join(r['changes']) or '-'} | {'yes' if r['ok'] else 'NO'} |")
    lines += ["", "Schema before the changes: `" + json.dumps(schemas.get("before")) + "`",
              "", "Schema after: `" + json.dumps(schemas.get("after")) + "`"]
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
