"""The markdown report of the CDC benchmark (bench/cdc.py), from its raw results."""

import json

MIB = 1024


def _n(value, suffix=""):
    return "—" if value is None else f"{value:,.0f}{suffix}"


def _s(value):
    return "—" if value is None else f"{value:.2f} s"


def _x(value, reference):
    return f"{value / reference:.2f}×" if value and reference else "—"


def _mib(kib):
    return "—" if not kib else f"{kib / MIB:,.0f} MiB"


def _exact(part):
    check = (part or {}).get("check")
    if check is None:
        return ""
    return "yes" if check["ok"] else f"NO: {check['note']}"


def _cdc_facts(snap, run2, applied, slots):
    """Lines on the runs' `inletCdc` objects against what was applied, and on the slots."""
    lines = []
    for run, number, mode in ((snap, 1, "snapshot"), (run2, 2, "changes")):
        cdc = (run or {}).get("cdc")
        if run and not cdc:
            lines.append(f"- Run {number} carries no `inletCdc` object.")
        elif run and cdc.get("mode") != mode:
            lines.append(f"- Run {number}'s `inletCdc.mode` is {cdc.get('mode')!r}, not {mode!r}.")
    cdc = run2.get("cdc")
    if cdc:
        kinds = ("inserts", "updates", "deletes", "transactions")
        differ = [f"{k} {cdc.get(k)} (applied {applied.get(k)})" for k in kinds if cdc.get(k) != applied.get(k)]
        lines.append(f"- Run 2's `inletCdc`: `{json.dumps(cdc)}`; "
                     + (f"differs from what was applied: {', '.join(differ)}" if differ
                        else "its counts equal what was applied") + ".")
    lines.append("- Replication slots after run 2 (bytes of WAL not confirmed): "
                 + (", ".join(f"`{s['slot']}` {_n(s['behind'])}" for s in slots) or "none") + ".")
    return lines


def markdown(raw):
    rows, changes = raw["rows"], raw["changes"]
    mix = raw["mix"]
    out = [f"# CDC: {changes:,} mixed changes on a {rows:,}-row table ({raw['date']})", "",
           f"`{raw['command']}`", ""]
    m = raw.get("machine") or {}
    if m:
        out.append(f"- Machine: {m.get('cpus')} cores ({m.get('cpu_model')}), {m.get('memory_gib', 0):.1f} GiB, "
                   f"{m.get('kernel')}; PostgreSQL {m.get('postgres')} (`wal_level = logical`); "
                   f"inlet {m.get('inlet_version')} at commit {m.get('git_commit')}")
    table = raw.get("table") or {}
    out.append(f"- Table `cdc_bench`: {rows:,} rows, {table.get('bytes_on_disk', 0) / 1e6:,.0f} MB on disk, "
               f"generated in {table.get('generate_s')} s")
    transactions = changes // raw["batch"]
    out.append(f"- Changes: {transactions:,} transactions of {raw['batch']:,} ({mix['updates']:,} updates, "
               f"{mix['inserts']:,} inserts, {mix['deletes']:,} deletes each)")
    applied = raw.get("applied")
    if applied:
        out.append(f"  committed in {applied['seconds']} s ({applied['changes_per_s']:,} changes/s), "
                   f"{applied['wal_bytes'] / 1e6:,.0f} MB of WAL")
    limit = raw.get("limit")
    if limit:
        first = limit["runs"][0]
        out.append(f"- The limit's read: {first['messages']:,} pgoutput messages (binary), "
                   f"{first['bytes'] / 1e6:,.1f} MB; all peeks (s): "
                   + ", ".join(f"{r['wall_s']:.2f}" for r in limit["runs"]))
    busy = [r.get("busy_before") for part in ("copy_limit", "full_copy", "limit")
            for r in (raw.get(part) or {}).get("runs", [])]
    busy += [(raw.get(p) or {}).get("busy_before") for p in ("snapshot", "changes_run", "applied")]
    busy = [b for b in busy if b is not None]
    if busy:
        out.append(f"- CPU busy with other work in the second before a timed step: at most {max(busy):.0%}")
    out += ["", "| step | time | rate | × reference | peak RSS | exact |", "|---|---:|---:|---:|---:|---|"]
    copy_limit, full = raw.get("copy_limit"), raw.get("full_copy")
    if copy_limit:
        out.append(f"| PostgreSQL's binary COPY to /dev/null (median) | {_s(copy_limit['median_s'])} | "
                   f"{_n(rows / copy_limit['median_s'], ' rows/s')} | | | |")
    full_s = full["median_s"] if full else None
    if full:
        out.append(f"| full copy: `inlet copy` (median) | {_s(full_s)} | {_n(rows / full_s, ' rows/s')} | 1.00× | "
                   f"{_mib(max(r['rss_kib'] or 0 for r in full['runs']))} | |")
    snap = raw.get("snapshot")
    if snap:
        out.append(f"| snapshot (run 1), due → success | {_s(snap['wall_s'])} | {_n(rows / snap['wall_s'], ' rows/s')} "
                   f"| {_x(snap['wall_s'], full_s)} full copy | {_mib(snap['rss_kib'])} | {_exact(snap)} |")
        if snap.get("run_s"):
            out.append(f"| snapshot (run 1), its durationSummary | {_s(snap['run_s'])} | "
                       f"{_n(rows / snap['run_s'], ' rows/s')} | {_x(snap['run_s'], full_s)} full copy | | |")
    limit_s = limit["median_s"] if limit else None
    if limit:
        out.append(f"| limit: the changes read from a slot and discarded (median) | {_s(limit_s)} | "
                   f"{_n(limit['changes_per_s'], ' changes/s')} | 1.00× | | |")
    run2 = raw.get("changes_run")
    if run2:
        out.append(f"| changes (run 2), due → success | {_s(run2['wall_s'])} | "
                   f"{_n(changes / run2['wall_s'], ' changes/s')} | {_x(run2['wall_s'], limit_s)} limit | "
                   f"{_mib(run2['rss_kib'])} | {_exact(run2)} |")
        if run2.get("run_s"):
            out.append(f"| changes (run 2), its durationSummary | {_s(run2['run_s'])} | "
                       f"{_n(changes / run2['run_s'], ' changes/s')} | {_x(run2['run_s'], limit_s)} limit | | |")
    ref = raw.get("reference_check")
    if ref:
        out.append(f"| (no inlet) the checker on a table written by `deltalake` | | | | | "
                   f"{'yes' if ref['ok'] else 'NO: ' + ref['note']} |")
    out += ["", "Peak RSS: GNU time's for `inlet copy`; inlet serve's VmHWM after run 1, and after run 2 "
            "(reset after run 1, so run 2's own peak). × reference: the step's time over the reference's.", ""]
    if run2:
        out += _cdc_facts(snap, run2, applied or {}, raw.get("slots_after_run_2") or []) + [""]
    for line in raw.get("notes", []):
        out.append(f"- {line}")
    for error in raw.get("errors", []):
        out += ["", "ERROR:", "", "```", error.strip(), "```"]
    return "\n".join(out).rstrip() + "\n"
