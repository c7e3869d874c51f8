"""The scale benchmark (issue 10): how list pages and a flow's item cost as the metadata
grows. Two fresh `inlet serve` processes (SQLite metadata, no workers, so runs stay as
recorded): one holding 100 connections and 1,000 runs of one flow, one holding 10,000
connections and 100,000 runs. Connections are created through the API; runs are written
straight into the metadata database (the scheduler would take minutes to record 100,000
windows, and the lists read them the same way). For each: the median latency (of 30
requests, after 5 to warm up) of the first page and a middle page of `GET /connections`
and `GET /runs?property=flowId==<id>` (limit 20), `GET /flows/{id}`, and the server's
peak RSS. Target: every figure at the large size within 2x of the small one, and RSS
under 150 MiB.

Run it through `bench/run --scale` (which installs what is needed and builds inlet), or
directly: python3 bench/scale.py --inlet target/release/inlet
"""

import argparse
import datetime
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from flow import FLOW, FLOW_SPEC, ORG, Api, _cli, _setup, peak_rss_kib  # noqa: E402
from pg import PgServer  # noqa: E402

PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
SIZES = {"small": (100, 1_000), "large": (10_000, 100_000)}
REPEAT, WARM = 30, 5


def log(message):
    print(f"[scale] {message}", flush=True)


def start(inlet, work):
    data_dir = os.path.join(work, "data")
    config = os.path.join(work, "inlet.toml")
    with open(config, "w") as f:
        f.write("workers = 0\n")
    env = {**os.environ, "INLET_LOG": "warn"}
    with open(os.path.join(work, "serve.log"), "w") as log_file:
        server = subprocess.Popen([inlet, "serve", "--config", config, "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                                  env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("inlet listening on "):
        raise RuntimeError(f"inlet serve did not start: {line!r}")
    client = json.loads(_cli(inlet, env, data_dir, "clients", "create", "--org", ORG, "--name", "scale"))
    token = _cli(inlet, env, data_dir, "token", "--org", ORG, "--client-id", client["client_id"])
    return server, Api(line.removeprefix("inlet listening on "), client["client_id"], token), data_dir


def median_ms(api, path):
    times = []
    for i in range(WARM + REPEAT):
        started = time.perf_counter()
        status, _ = api.call("GET", path)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        if i >= WARM:
            times.append(elapsed * 1000)
    return round(statistics.median(times), 2)


def middle_page(api, first):
    """The href of the page halfway through the list that starts at `first`."""
    pages, path = [first], first
    while True:
        _, reply = api.call("GET", path)
        href = reply.get("_links", {}).get("next", {}).get("href")
        if not href:
            return pages[len(pages) // 2]
        path = f"{FLOW}{href}"
        pages.append(path)


def insert_runs(data_dir, flow_id, count):
    db = sqlite3.connect(os.path.join(data_dir, "metadata.db"))
    now = int(time.time() * 1000)
    rows = [(str(uuid.uuid4()), ORG, "prod", flow_id, n, 0, 1_735_689_600 + n * 900, 1_735_689_600 + (n + 1) * 900,
             "success", 0, None, 1, None, None, None, now + n, now + n, '"e"', "{}") for n in range(1, count + 1)]
    db.executemany("INSERT INTO runs (id, org, sandbox, flow_id, window_number, generation, window_start, window_end, "
                   "status, due_at, retry_at, attempts, lease_owner, lease_expires_at, replaced_by, created_at, "
                   "updated_at, etag, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def one_size(inlet, pg, name, connections, runs):
    with tempfile.TemporaryDirectory(prefix=f"inlet-scale-{name}-") as work:
        server, api, data_dir = start(inlet, work)
        try:
            source, target, _ = _setup(api, pg, "items")
            for i in range(connections - 1):
                api.created(f"{FLOW}/connections", {
                    "name": f"connection {i}", "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
                    "auth": {"specName": "Basic Authentication", "params": {
                        "server": "db.example.com", "database": "shop", "username": "reader",
                        "password": "secret", "sslMode": "Require"}}})
            flow = api.created(f"{FLOW}/flows", {
                "name": "scale", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
                "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
                "scheduleParams": {"startTime": str(int(time.time()) + 86_400 * 365), "frequency": "once"}})["id"]
            insert_runs(data_dir, flow, runs)
            connections_first = f"{FLOW}/connections?limit=20"
            runs_first = f"{FLOW}/runs?property=flowId=={flow}&limit=20"
            result = {
                "size": name, "connections": connections, "runs": runs,
                "connections_first_ms": median_ms(api, connections_first),
                "connections_middle_ms": median_ms(api, middle_page(api, connections_first)),
                "runs_first_ms": median_ms(api, runs_first),
                "runs_middle_ms": median_ms(api, middle_page(api, runs_first)),
                "flow_ms": median_ms(api, f"{FLOW}/flows/{flow}"),
            }
            result["rss_kib"] = peak_rss_kib(server.pid)
            return result
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inlet", default=os.path.join(os.path.dirname(HERE), "target", "release", "inlet"))
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    results = []
    with PgServer() as pg:
        pg.psql("bench", "CREATE TABLE items (id bigint PRIMARY KEY); INSERT INTO items VALUES (1);")
        for name, (connections, runs) in SIZES.items():
            log(f"{name}: {connections} connections, {runs} runs")
            results.append(one_size(args.inlet, pg, name, connections, runs))
            log(json.dumps(results[-1]))
    small, large = results
    figures = ["connections_first_ms", "connections_middle_ms", "runs_first_ms", "runs_middle_ms", "flow_ms"]
    lines = [f"# Scale: lists and a flow's item as the metadata grows ({datetime.date.today()})", "",
             "| figure | 100 conn. / 1,000 runs | 10,000 conn. / 100,000 runs | ratio | within 2x |",
             "|---|---:|---:|---:|---|"]
    for figure in figures:
        ratio = large[figure] / small[figure] if small[figure] else float("inf")
        lines.append(f"| {figure} | {small[figure]} ms | {large[figure]} ms | {ratio:.2f} | "
                     f"{'PASS' if ratio <= 2 else 'FAIL'} |")
    for result in results:
        mib = result["rss_kib"] / 1024
        lines.append(f"| peak RSS ({result['size']}) | | {mib:.0f} MiB | | {'PASS' if mib < 150 else 'FAIL'} |")
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today().isoformat()}-scale"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
