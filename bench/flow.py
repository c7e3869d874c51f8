"""The `inlet flow` contender: a fresh `inlet serve` (its own data directory, embedded
defaults except `settle_lag = "0s"`: by default a `once` run waits the 60 s settle lag
after its start time, which would only add a constant to every figure), driven over HTTP as a Flow Service client would (see tests/it/dataflows.rs):
client and token from the CLI, base connection, source connection, dataset, target
connection, then a `once` flow. Timed from POST /flows until its run reads `success`
(polled every 100 ms); the server's peak RSS is its VmHWM after the run.
"""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

FLOW = "/data/foundation/flowservice"
PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
DATALAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
ORG = "BENCH@AdobeOrg"
RUN_TIMEOUT_S = 3600
SERVER_CONFIG = 'settle_lag = "0s"\n'


class Api:
    def __init__(self, base, client_id, token):
        self.base, self.client_id, self.token = base, client_id, token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "x-api-key": self.client_id,
            "x-gw-ims-org-id": ORG, "x-sandbox-name": "prod", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def created(self, path, body):
        status, reply = self.call("POST", path, body)
        if status != 201:
            raise RuntimeError(f"POST {path}: {status} {reply}")
        return reply


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def _cli(inlet, env, data_dir, *args):
    out = subprocess.run([inlet, *args, "--data-dir", data_dir], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"inlet {args[0]}: {out.stderr}")
    return out.stdout.strip()


def _setup(api, pg, table, source_params=None):
    """Connections and dataset for `table` (`source_params` added to the source connection's
    params, e.g. {"cdcEnabled": True}); returns (source id, target id, dataset id)."""
    base = api.created(f"{FLOW}/connections", {
        "name": "bench", "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {
            "server": "127.0.0.1", "port": pg.port, "database": "bench", "username": "postgres",
            "password": pg.password, "sslMode": "Disable"}}})["id"]
    source = api.created(f"{FLOW}/sourceConnections", {
        "name": f"{table} source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": f"public.{table}", **(source_params or {})},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"}})["id"]
    dataset = api.created("/data/foundation/catalog/dataSets", {"name": table})[0]
    dataset = dataset.removeprefix("@/dataSets/")
    target = api.created(f"{FLOW}/targetConnections", {
        "name": f"{table} target", "data": {"format": "delta"}, "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATALAKE_SPEC, "version": "1.0"}})["id"]
    return source, target, dataset


def _wait_for_run(api, flow_id):
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        status, reply = api.call("GET", f"{FLOW}/runs?property=flowId=={flow_id}")
        items = reply.get("items", []) if status == 200 and isinstance(reply, dict) else []
        if items:
            run = items[0]
            state = run.get("metrics", {}).get("statusSummary", {}).get("status")
            if state in ("success", "failed", "cancelled"):
                return state, run
        time.sleep(0.1)
    return "timeout", None


def run_once_flow(inlet, env, pg, table, work, lake_root=None):
    data_dir = os.path.join(work, "inlet-data")
    log_path = os.path.join(work, "inlet-serve.log")
    config = os.path.join(work, "inlet.toml")
    with open(config, "w") as f:
        f.write(SERVER_CONFIG)
    with open(log_path, "w") as log:
        lake = ["--lake-root", lake_root] if lake_root else []
        server = subprocess.Popen([inlet, "serve", "--config", config, "--data-dir", data_dir,
                                   "--listen", "127.0.0.1:0", *lake],
                                  env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("inlet listening on "):
            raise RuntimeError(f"inlet serve did not start: {line!r}")
        base = line.removeprefix("inlet listening on ")
        client = json.loads(_cli(inlet, env, data_dir, "clients", "create", "--org", ORG, "--name", "bench"))
        token = _cli(inlet, env, data_dir, "token", "--org", ORG, "--client-id", client["client_id"])
        api = Api(base, client["client_id"], token)
        source, target, dataset = _setup(api, pg, table)

        started = time.monotonic()
        flow_id = api.created(f"{FLOW}/flows", {
            "name": f"{table} once", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
            "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"}})["id"]
        state, run = _wait_for_run(api, flow_id)
        wall = time.monotonic() - started
        rss = peak_rss_kib(server.pid)

        _, item = api.call("GET", f"/data/foundation/catalog/dataSets/{dataset}")
        location = item.get(dataset, {}).get("location", "") if isinstance(item, dict) else ""
        location = location.removeprefix("file://")
        ok = state == "success"
        records = (run or {}).get("metrics", {}).get("recordSummary", {})
        note = f"run {state}, {records.get('outputRecordCount')} records"
        if not ok:
            errors = (run or {}).get("metrics", {}).get("statusSummary", {}).get("errors")
            note += f": {json.dumps(errors)[:300]}"
        return {"wall_s": wall, "rss_kib": rss, "ok": ok, "note": note, "location": location if ok else None}
    except Exception as error:
        return {"wall_s": None, "rss_kib": None, "ok": False, "note": f"{error}"[:500]}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
