"""Drives Inlet with aepp, the platform's own Python client (PyPI `aepp`, unmodified), the
way its users script the tutorial and more: connection, test, dataset, source and target
connections, flow, runs, rename with the etag, disable, enable, deletes. Only the
endpoint and the token URL point at Inlet. Prints one JSON line per step; exits non-zero
on the first step that does not behave as on the platform.

Environment: INLET_BASE, INLET_ORG, INLET_CLIENT_ID, INLET_CLIENT_SECRET, PG_PORT,
PG_PASSWORD (the `reader` role of database `shop`, table public.orders), FLOW_START (the
server's flow clock now, epoch seconds), ROWS (the table's rows).
"""

import json
import os
import sys
import time

import aepp
from aepp import catalog, flowservice

ENV = os.environ


def step(name, ok, detail=""):
    print(json.dumps({"step": name, "ok": bool(ok), "detail": detail}), flush=True)
    if not ok:
        sys.exit(1)


def main():
    base = ENV["INLET_BASE"]
    aepp.configure(org_id=ENV["INLET_ORG"], client_id=ENV["INLET_CLIENT_ID"], secret=ENV["INLET_CLIENT_SECRET"],
                   scopes="openid,AdobeID", environment="support", endpoint=base)
    aepp.config.config_object["oauthTokenEndpointV2"] = f"{base}/ims/token/v3"
    fs = flowservice.FlowService()
    cat = catalog.Catalog()

    pg_spec = fs.getConnectionSpecIdFromName("postgre-sql")
    step("connection spec by name", pg_spec == "74a1c565-4e59-48d7-9d67-7c03b8a13137", pg_spec)
    conn = fs.createConnection(data={
        "name": "shop by aepp", "connectionSpec": {"id": pg_spec, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {
            "server": "127.0.0.1", "port": ENV["PG_PORT"], "database": "shop", "username": "reader",
            "password": ENV["PG_PASSWORD"], "sslMode": "Disable"}}})
    step("create connection", "id" in conn, conn)
    tested = fs.connectionTest(conn["id"])
    step("test connection", tested.get("result") is True, tested)
    listed = fs.getConnections()
    step("list connections", any(c["id"] == conn["id"] for c in listed), len(listed))
    # aepp's getConnections(count=True) also sends `limit`, which the contract answers
    # with 1401-400 (count and limit together); a count alone is asked with its own call.
    counted = fs.connector.getData(fs.endpoint + "/connections", params={"count": "True"})
    step("count connections (count=True, as Python writes it)", counted == {"count": 1}, counted)

    dataset = cat.createDataSet(name="orders by aepp", schemaId="https://ns.adobe.com/acme/schemas/orders")
    dataset_id = dataset[0].split("/")[-1] if isinstance(dataset, list) else None
    step("create dataset", dataset_id, dataset)
    source = fs.createSourceConnection(data={
        "name": "orders source", "baseConnectionId": conn["id"], "data": {"format": "tabular"},
        "params": {"tableName": "public.orders"}, "connectionSpec": {"id": pg_spec, "version": "1.0"}})
    step("create source connection", "id" in source, source)
    target = fs.createTargetConnectionDataLake(name="orders target", datasetId=dataset_id,
                                               schemaId="https://ns.adobe.com/acme/schemas/orders")
    step("create data lake target connection (format delimited)", "id" in target, target)

    flow_spec = fs.getFlowSpecIdFromNames("CRMToAEP")
    step("flow spec by name", flow_spec == "14518937-270c-4525-bdec-c2ba7cce3860", flow_spec)
    flow = fs.createFlow(flow_spec, obj={
        "name": "orders by aepp", "flowSpec": {"id": flow_spec, "version": "1.0"},
        "sourceConnectionIds": [source["id"]], "targetConnectionIds": [target["id"]], "transformations": [],
        "scheduleParams": {"startTime": ENV.get("FLOW_START", str(int(time.time()))), "frequency": "once"}})
    step("create flow", "id" in flow, flow)
    flows = fs.getFlows(prop=f"id=={flow['id']}")
    step("list flows filtered by id", [f["id"] for f in flows] == [flow["id"]], len(flows))

    deadline = time.time() + 120
    runs = []
    while time.time() < deadline:
        runs = fs.getRuns(prop=f"flowId=={flow['id']}")
        if runs and runs[0]["metrics"]["statusSummary"]["status"] in ("success", "failed"):
            break
        time.sleep(0.5)
    state = runs[0]["metrics"]["statusSummary"]["status"] if runs else None
    step("the flow's run succeeds", state == "success", runs[:1])
    records = runs[0]["metrics"]["recordSummary"]["outputRecordCount"]
    step("the run wrote every row", records == int(ENV.get("ROWS", "50")), records)
    run = fs.getRun(runs[0]["id"])
    step("get one run", (run[0] if isinstance(run, list) else run)["id"] == runs[0]["id"], run)

    current = fs.getFlow(flow["id"])
    renamed = fs.updateFlow(flow["id"], current["etag"], [{"op": "Replace", "path": "/name", "value": "renamed by aepp"}])
    step("rename the flow with its etag", renamed.get("id") == flow["id"], renamed)
    step("the new name reads back", fs.getFlow(flow["id"])["name"] == "renamed by aepp")
    disabled = fs.postFlowAction(flow["id"], "disable")
    step("disable", fs.getFlow(flow["id"])["state"] == "disabled", disabled)
    enabled = fs.postFlowAction(flow["id"], "enable")
    step("enable", fs.getFlow(flow["id"])["state"] == "enabled", enabled)

    deleted = [fs.deleteFlow(flow["id"]), fs.deleteSourceConnection(source["id"]),
               fs.deleteTargetConnection(target["id"]), fs.deleteConnection(conn["id"])]
    step("delete flow, source and target connections, connection", True, deleted)
    gone = fs.getConnections()
    step("the connection is gone", all(c["id"] != conn["id"] for c in gone), len(gone))


if __name__ == "__main__":
    main()
