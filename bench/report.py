"""Turns the raw results (the JSON written beside the report) into the markdown report:
the summary table, the targets of issue 5 as PASS/FAIL, failures, and the profile."""

import statistics

MIB = 1024 * 1024
RSS_LIMIT_MIB = 300
COPY_VS_LIMIT = 1.5
COPY_VS_PEER = 0.5
RSS_SPREAD = 0.10


def summarize(raw):
    """{(table, contender): summary} over all repetitions."""
    out = {}
    for table, facts in raw["tables"].items():
        for contender in raw["contenders"]:
            runs = [r for r in raw["results"] if r["table"] == table and r["contender"] == contender]
            if not runs:
                continue
            good = [r for r in runs if r["ok"] and r.get("check_ok", True)]
            failed = [r for r in runs if r not in good]
            walls = [r["wall_s"] for r in good]
            rss = [r["rss_kib"] for r in runs if r.get("rss_kib")]
            median = statistics.median(walls) if walls else None
            out[(table, contender)] = {
                "runs": len(runs), "ok": len(good), "failed": failed,
                "median_s": median,
                "walls": [r["wall_s"] for r in runs],
                "rows_per_s": facts["rows"] / median if median else None,
                "mb_per_s": facts["copy_bytes"] / 1e6 / median if median else None,
                "rss_mib": max(rss) / 1024 if rss else None,
            }
    for (table, contender), s in out.items():
        limit = out.get((table, "limit"), {}).get("median_s")
        s["vs_limit"] = s["median_s"] / limit if s["median_s"] and limit else None
    return out


def _f(value, digits=2, suffix=""):
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def targets(raw, summary):
    """[(target, figures, PASS/FAIL)]."""
    rows = []
    copy = summary.get(("lineitem", "inlet copy"))
    limit = summary.get(("lineitem", "limit"))
    peers = [s for (t, c), s in summary.items() if t == "lineitem" and c.startswith("ConnectorX") and s["median_s"]]
    if copy and limit:
        ratio = copy["vs_limit"]
        ok = ratio is not None and ratio <= COPY_VS_LIMIT and not copy["failed"]
        rows.append((f"`inlet copy` of lineitem ≤ {COPY_VS_LIMIT}× the limit (aim 1.25×)",
                     f"{_f(copy['median_s'])} s vs {_f(limit['median_s'])} s: {_f(ratio)}×", ok))
    if copy and peers:
        best = min(p["median_s"] for p in peers)
        ratio = copy["median_s"] / best if copy["median_s"] else None
        ok = ratio is not None and ratio <= COPY_VS_PEER and not copy["failed"]
        rows.append((f"`inlet copy` of lineitem ≤ {COPY_VS_PEER}× the best ConnectorX",
                     f"{_f(copy['median_s'])} s vs {_f(best)} s: {_f(ratio)}×", ok))
    for contender in ("inlet copy", "inlet flow"):
        mine = {t: s for (t, c), s in summary.items() if c == contender}
        if not mine:
            continue
        figures = ", ".join(f"{t} {_f(s['rss_mib'], 0)}" for t, s in mine.items())
        ok = all(s["rss_mib"] is not None and s["rss_mib"] <= RSS_LIMIT_MIB for s in mine.values())
        rows.append((f"`{contender}` peak RSS ≤ {RSS_LIMIT_MIB} MiB for every table", f"{figures} MiB", ok))
        small, big = mine.get("lineitem_1m"), mine.get("lineitem")
        if small and big and small["rss_mib"] and big["rss_mib"]:
            spread = abs(big["rss_mib"] - small["rss_mib"]) / small["rss_mib"]
            rows.append((f"`{contender}` peak RSS within {RSS_SPREAD:.0%} between lineitem_1m and lineitem",
                         f"{_f(small['rss_mib'], 0)} vs {_f(big['rss_mib'], 0)} MiB: {spread:+.1%}",
                         spread <= RSS_SPREAD))
    checked = [r for r in raw["results"] if r["contender"] in ("inlet copy", "inlet flow")]
    bad = [r for r in checked if not (r["ok"] and r.get("check_ok"))]
    rows.append(("every Inlet run complete and exact (row count and checksums against the source)",
                 f"{len(checked) - len(bad)} of {len(checked)} runs", not bad and bool(checked)))
    return [(t, f, "PASS" if ok else "FAIL") for t, f, ok in rows]


def markdown(raw):
    summary = summarize(raw)
    m = raw["machine"]
    lines = [
        f"# Inlet benchmark, {raw['date']}", "",
        f"`{raw['command']}` ({raw['mode']} run: {raw['runs']} repetition(s) per contender, contenders "
        f"alternating; total {raw['duration_s'] / 60:.1f} min"
        + (f", after a {raw['build_s']} s `cargo build --release --locked`" if raw.get("build_s") is not None else "")
        + ").", "",
        f"- Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']:.1f} GiB, {m['kernel']}",
        f"- PostgreSQL {m['postgres']}; inlet {m['inlet_version']} at commit {m['git_commit']}; "
        f"{m['rustc']}",
        f"- Python {m['python']}: connectorx {m['connectorx']}, deltalake {m['deltalake']}, "
        f"pyarrow {m['pyarrow']}",
        "- CPU busy in the second before each run: "
        f"median {statistics.median(r['busy_before'] for r in raw['results']):.0%}, "
        f"at most {max(r['busy_before'] for r in raw['results']):.0%}; just after: at most "
        f"{max(r.get('busy_after', 0) for r in raw['results']):.0%}. Runs repeated because other work "
        f"appeared on the CPUs during them: {len(raw.get('discarded', []))}"
        if raw["results"] else "- no runs",
    ]
    for note in raw.get("notes", []):
        lines.append(f"- Note: {note}")
    lines += ["", "## Tables", "",
              "| table | rows | binary COPY size | on disk | generated in |", "|---|---:|---:|---:|---:|"]
    for table, facts in raw["tables"].items():
        gen = raw["generation"].get(table)
        lines.append(f"| {table} | {facts['rows']:,} | {facts['copy_bytes'] / 1e6:,.0f} MB | "
                     f"{facts['relation_bytes'] / 1e6:,.0f} MB | {_f(gen, 1, ' s')} |")
    total_gen = sum(raw["generation"].values())
    lines += ["", f"Generation in all (text chunks, inserts, keys, `VACUUM (FREEZE, ANALYZE)`): "
                  f"{total_gen:.0f} s; measuring the binary COPY sizes: {raw['sizing_s']:.0f} s.", ""]

    lines += ["## Results", "",
              "Median wall time over the runs that succeeded; rows/s and MB/s from it (MB/s of the "
              "table's binary COPY size, 1 MB = 10^6 bytes); peak RSS is the largest over the runs; "
              "× limit is the median wall time over the limit's.", "",
              "| table | contender | ok runs | median wall | rows/s | MB/s | peak RSS | × limit | all walls (s) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (table, contender), s in summary.items():
        status = f"{s['ok']}/{s['runs']}" + (" **FAILED**" if s["failed"] else "")
        walls = ", ".join(_f(w) for w in s["walls"])
        lines.append(f"| {table} | {contender} | {status} | {_f(s['median_s'], 2, ' s')} | "
                     f"{_f(s['rows_per_s'], 0)} | {_f(s['mb_per_s'], 1)} | {_f(s['rss_mib'], 0, ' MiB')} | "
                     f"{_f(s['vs_limit'], 2, '×')} | {walls} |")

    lines += ["", "## Targets (issue 5)", "", "| target | figures | result |", "|---|---|---|"]
    lines += [f"| {t} | {f} | **{r}** |" for t, f, r in targets(raw, summary)]

    failed = [r for r in raw["results"] if not (r["ok"] and r.get("check_ok", True))]
    lines += ["", "## Failed runs", ""]
    if failed:
        for r in failed:
            why = r.get("check_note") if r["ok"] else r["note"]
            lines.append(f"- {r['table']} / {r['contender']} / run {r['round']}: {why}")
    else:
        lines.append("None: every run finished, and every Inlet run's Delta table matched the source.")

    checks = [r for r in raw["results"] if r.get("check_note") and r.get("check_ok")]
    if checks:
        lines += ["", "Checks of Inlet's tables (row count, per-column counts and sums, distinct keys): "
                  + "; ".join(sorted({f"{r['table']}: {r['check_note']}" for r in checks})) + "."]
    peer_notes = sorted({f"{r['table']}: {', '.join(r['cx_schema'])}"
                         for r in raw["results"] if r.get("cx_schema") and r["round"] == 1})
    if peer_notes:
        lines += ["", "<details><summary>Arrow schemas ConnectorX produced</summary>", ""]
        lines += [f"- {n}" for n in peer_notes] + ["", "</details>"]

    prof = raw.get("profile")
    if prof:
        lines += ["", f"## Profile: `inlet copy` of {prof['table']}", "",
                  f"{prof['method']}; the profiled run took {prof['seconds']} s under the tool.", "",
                  "| # | self | object | function |", "|---:|---:|---|---|"]
        for i, e in enumerate(prof["entries"], 1):
            symbol = e["symbol"].replace("|", "\\|")
            lines.append(f"| {i} | {e['share']:.2f}% | {e['object']} | `{symbol}` |")
    lines += ["", "## Method", "", METHOD]
    return "\n".join(lines) + "\n"


METHOD = """\
- PostgreSQL is started by the harness (`bench/pg.py`, the test harness's way: initdb and
  pg_ctl as the `postgres` OS user, fsync off, a free port); every contender connects over
  TCP to 127.0.0.1 as the superuser (SCRAM).
- The tables are generated in the database (`bench/tables.py`: generate_series, `setseed`),
  given primary keys, then `VACUUM (FREEZE, ANALYZE)`d so no contender pays for hint bits.
  The page cache is warm for everyone: the tables fit in memory and each was read once to
  measure its binary COPY size.
- **limit**: `psql -c "COPY t TO STDOUT (FORMAT binary)" > /dev/null`: one COPY stream, so one
  server backend on one core. `inlet copy` and the flow read `partitions` streams (default:
  the number of cores) in parallel, each on its own backend, so they can come near 1.0× or
  under it; ConnectorX with 2 partitions does the same.
  **inlet copy**: `inlet copy --source ... --table public.t --to <new directory>` (defaults:
  partitions = cores). **inlet flow**: a fresh `inlet serve` (default settings except
  `settle_lag = "0s"`: by default a `once` run is due 60 s after its start time), then over
  HTTP a client, base/source/target connections, a dataset and a `once` flow; timed from
  `POST /flows` until the run reads `success` (polled every 100 ms), so the scheduler's and
  workers' polling (500 ms by default) is included. **ConnectorX**: `connectorx.read_sql(...,
  return_type="arrow", partition_on=<bigint key>, partition_num=N)` then
  `deltalake.write_deltalake(<new directory>, table)`, the whole Python script timed
  (interpreter start and imports included).
- **N-stream limit**: the same COPY split into as many ctid ranges as Inlet reads partitions
  (one per core), each range its own `psql` over TCP to `/dev/null`, all started at once
  and timed until the last ends: the rate at which the server hands the table out to that
  many readers. **DuckDB Parquet / DuckDB Delta**: DuckDB with its postgres extension
  (loaded from the `duckdb-extension-postgres-scanner` wheel; binary COPY over parallel
  ctid ranges in one snapshot, as many threads as cores): `COPY (SELECT * FROM pg.public.t)
  TO 'data.parquet' (FORMAT parquet, COMPRESSION zstd)`, or its result streamed as Arrow
  batches into `deltalake.write_deltalake` (DuckDB's delta extension only reads).
- **S3**: a SeaweedFS server (`bench/s3.py`, the test harness's: `weed server` with its S3
  gateway on loopback, data on the same disk). **inlet copy s3 / inlet flow s3**: the same
  runs with `--to s3://...` / `--lake-root s3://...` and the AWS variables pointing at it.
  **S3 upload alone**: the files of a local `inlet copy` of the table (the same bytes)
  uploaded with pyarrow's S3 client (multipart, several threads): what the store takes in
  at most on this machine, sharing its cores with nothing else.
- Wall time is measured by the harness around each process; peak RSS is GNU time's maximum
  resident set size (`/usr/bin/time -v`), or the server's VmHWM for the flow.
- After every Inlet run, `bench/check.py` reads the Delta table with the `deltalake` Python
  package and compares the row count, per-column non-NULL counts and exact sums (integers,
  numerics, days, microseconds, UTF-8 bytes of text, array elements, uuid bits) and the
  number of distinct keys with the same figures computed by PostgreSQL. A mismatch fails
  the run whatever its speed.
"""
