"""The PostgreSQL side of the CDC benchmark (bench/cdc.py): the table, the mixed changes,
the limit (the same changes read from a logical slot and discarded), and the check that
a Delta table holds exactly the source's rows.

- `cdc_bench`: `rows` rows from generate_series after `setseed` (some NULL names and
  timestamps), then VACUUM ANALYZE.
- The changes: `changes` row changes in transactions of `batch`, each 60% updates, 20%
  inserts, 20% deletes, drawn by Python's `random.Random(seed)`, so the same on every
  machine and PostgreSQL version. The original ids are shuffled once: the first
  `changes / 5` are the ones deleted (in that order), the rest the ones updated. A
  transaction runs two UPDATEs of `0.3 × batch` distinct ids each (drawn with repetition
  across statements, so rows are updated several times, twice in one transaction
  sometimes: the merge must keep the last), one INSERT of new ids after the table's, and
  one DELETE. Every statement's row count is checked: exactly `changes` rows change.
- The check: per row, md5 over a canonical text of all columns, its first 64 bits, by id;
  PostgreSQL computes them for the source, Python (over `deltalake` and pyarrow, not
  Inlet) for the lake. Also the row count, distinct ids, and sums of n and counter.
"""

import hashlib
import random
import time

import numpy
import pyarrow
from deltalake import DeltaTable

TABLE = "cdc_bench"
COLUMNS = ["id", "n", "name", "amount", "updated_at", "counter"]
PUBLICATION = SLOT = "cdc_bench_limit"
# wal_level = logical for the source; slots for Inlet's, the limit's and spares.
PG_SETTINGS = {"wal_level": "logical", "max_replication_slots": "8", "max_wal_senders": "8",
               "max_wal_size": "'4GB'"}

GENERATE = """
SET max_parallel_workers_per_gather = 0;
SET maintenance_work_mem = '512MB';
SELECT setseed(0.25);
CREATE TABLE cdc_bench (id bigint PRIMARY KEY, n bigint NOT NULL, name text, amount numeric(12,2),
                        updated_at timestamptz, counter int NOT NULL DEFAULT 0);
INSERT INTO cdc_bench (id, n, name, amount, updated_at)
  SELECT g, (random() * 1000000000)::bigint,
         CASE WHEN g % 50 = 0 THEN NULL ELSE 'row ' || g || ' ' || substr(md5(g::text), 1, 4 + g % 29) END,
         round((random() * 100000)::numeric, 2),
         CASE WHEN g % 97 = 0 THEN NULL ELSE timestamptz '2025-01-01 00:00:00+00' + g * interval '1.5 s' END
  FROM generate_series(1, {rows}) g;
VACUUM ANALYZE cdc_bench;
"""
UPDATE = ("UPDATE cdc_bench SET n = (n * 31 + %s) %% 1000000007, amount = amount + 1.25, "
          "updated_at = now(), counter = counter + 1 WHERE id = ANY(%s::bigint[])")
INSERT = ("INSERT INTO cdc_bench (id, n, name, amount, updated_at) "
          "SELECT g, (g * 7919) %% 1000000007, 'new ' || md5(g::text), ((g %% 10000000) / 100.0)::numeric(12,2), "
          "now() FROM generate_series(%s::bigint, %s::bigint) g")
DELETE = "DELETE FROM cdc_bench WHERE id = ANY(%s::bigint[])"
# The canonical text of a row, as lake_fingerprint builds it in Python.
CANONICAL = ("concat_ws('|', id, n, coalesce(octet_length(name) || ':' || name, '-'), coalesce(amount::text, '-'), "
             "coalesce((extract(epoch FROM updated_at) * 1000000)::bigint::text, '-'), counter)")
PEEK = ("SELECT count(*), coalesce(sum(length(data)), 0) FROM pg_logical_slot_peek_binary_changes("
        f"'{SLOT}', NULL, NULL, 'proto_version', '1', 'publication_names', '{PUBLICATION}', 'binary', 'true')")


def generate(pg, rows):
    """Creates and fills the table; returns its facts."""
    started = time.monotonic()
    pg.psql("bench", GENERATE.format(rows=rows))
    size = pg.query(f"SELECT pg_total_relation_size('{TABLE}')")[0][0]
    return {"rows": rows, "generate_s": round(time.monotonic() - started, 1), "bytes_on_disk": size}


def mix(batch):
    """(updates, inserts, deletes) of one transaction of `batch` changes."""
    updates, inserts = batch * 6 // 10, batch * 2 // 10
    return updates, inserts, batch - updates - inserts


def validate(rows, changes, batch):
    """An error message, or None when the plan can be made."""
    if batch < 10 or changes < batch or changes % batch:
        return "--changes must be a multiple of --batch, and --batch at least 10"
    deletes = mix(batch)[2]
    if deletes * (changes // batch) > rows // 2:
        return "--changes is too many for --rows: the deletes would take more than half the table"
    return None


def plan(rows, changes, batch, seed=5):
    """The transactions: [(number, [update id lists], (first, last) new id, [deleted ids])]."""
    rng = random.Random(seed)
    ids = list(range(1, rows + 1))
    rng.shuffle(ids)
    updates, inserts, deletes = mix(batch)
    doomed, kept = ids[:deletes * (changes // batch)], ids[deletes * (changes // batch):]
    out = []
    for t in range(changes // batch):
        first = [kept[i] for i in rng.sample(range(len(kept)), updates // 2)]
        second = [kept[i] for i in rng.sample(range(len(kept)), updates - updates // 2)]
        new = (rows + 1 + t * inserts, rows + (t + 1) * inserts)
        out.append((t + 1, [first, second], new, doomed[t * deletes:(t + 1) * deletes]))
    return out


def apply(pg, transactions):
    """Runs the transactions, one commit each; returns (seconds, counts)."""
    conn = pg.connect()
    conn.autocommit = False
    counts = {"updates": 0, "inserts": 0, "deletes": 0, "transactions": 0}
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = '300s'")
            conn.commit()
            for number, update_lists, (lo, hi), doomed in transactions:
                steps = [(UPDATE, (number, update_lists[0]), len(update_lists[0]), "updates"),
                         (INSERT, (lo, hi), hi - lo + 1, "inserts"),
                         (UPDATE, (number, update_lists[1]), len(update_lists[1]), "updates"),
                         (DELETE, (doomed,), len(doomed), "deletes")]
                for sql, params, expected, kind in steps:
                    cur.execute(sql, params)
                    if cur.rowcount != expected:
                        raise RuntimeError(f"transaction {number}: {kind} changed {cur.rowcount} rows, not {expected}")
                    counts[kind] += expected
                conn.commit()
                counts["transactions"] += 1
    finally:
        conn.close()
    return time.monotonic() - started, counts


def wal_lsn(pg):
    return pg.query("SELECT pg_current_wal_lsn()::text")[0][0]


def wal_bytes(pg, since):
    return int(pg.query(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{since}')")[0][0])


def slots(pg):
    """[{slot, plugin, active, behind}]: every replication slot, and how many bytes of WAL
    it has not confirmed (Inlet's slot should be caught up after a run)."""
    rows = pg.query("SELECT slot_name, plugin, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
                    "FROM pg_replication_slots ORDER BY slot_name")
    return [{"slot": s, "plugin": p, "active": a, "behind": None if b is None else int(b)} for s, p, a, b in rows]


def create_limit_slot(pg):
    pg.query(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {TABLE}")
    # It waits for the transactions open at the time: not forever.
    pg.query(f"SET statement_timeout = '300s'; SELECT pg_create_logical_replication_slot('{SLOT}', 'pgoutput')")


def drop_limit_slot(pg):
    """Drops the limit's slot and publication if they exist (safe to call twice)."""
    pg.query(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{SLOT}'")
    pg.query(f"DROP PUBLICATION IF EXISTS {PUBLICATION}")


def measure_limit(pg, measure, log_path):
    """One peek of every change in the limit's slot, over TCP, discarded: (seconds, psql's peak
    RSS KiB, messages, bytes). `measure` is contenders.measure (GNU time)."""
    cmd = pg.tcp_psql_cmd(PEEK) + ["-A", "-t", "-v", "ON_ERROR_STOP=1"]
    env = {**pg.tcp_env(), "PGOPTIONS": "-c statement_timeout=1800s"}
    code, wall, rss, out = measure(cmd, env=env, log_path=log_path)
    if code != 0:
        with open(log_path, errors="replace") as f:
            raise RuntimeError(f"the limit's peek failed (exit {code}): {f.read()[-1000:]}")
    messages, size = (int(v) for v in out.strip().split("|"))
    return wall, rss, messages, size


def source_fingerprint(pg):
    """{figure: value}, and (ids, hashes) sorted by id, of the source table now."""
    rows, distinct, n_sum, counter_sum = pg.query(
        f"SELECT count(*), count(DISTINCT id), coalesce(sum(n), 0), coalesce(sum(counter), 0) FROM {TABLE}")[0]
    pairs = pg.query(f"SELECT id, ('x' || substr(md5({CANONICAL}), 1, 16))::bit(64)::bigint FROM {TABLE} ORDER BY id")
    ids = numpy.fromiter((p[0] for p in pairs), dtype=numpy.int64, count=len(pairs))
    hashes = numpy.fromiter((p[1] for p in pairs), dtype=numpy.int64, count=len(pairs))
    figures = {"rows": int(rows), "distinct_ids": int(distinct), "sum_n": int(n_sum), "sum_counter": int(counter_sum)}
    return figures, (ids, hashes)


def _row_hash(id_, n, name, amount, micros, counter):
    text = "|".join((str(id_), str(n), "-" if name is None else f"{len(name.encode())}:{name}",
                     "-" if amount is None else str(amount), "-" if micros is None else str(micros), str(counter)))
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big", signed=True)


def lake_fingerprint(location):
    """The same as `source_fingerprint`, from the Delta table at `location` (deltalake)."""
    table = DeltaTable(location).to_pyarrow_table(columns=COLUMNS)
    at = table.column("updated_at")
    micros = at.cast(pyarrow.timestamp("us", at.type.tz)).cast(pyarrow.int64())
    cols = [table.column(c).to_pylist() for c in ("id", "n", "name", "amount")]
    cols += [micros.to_pylist(), table.column("counter").to_pylist()]
    ids = numpy.array(cols[0], dtype=numpy.int64)
    hashes = numpy.fromiter((_row_hash(*row) for row in zip(*cols)), dtype=numpy.int64, count=len(ids))
    order = numpy.argsort(ids, kind="stable")
    figures = {"rows": len(ids), "distinct_ids": len(numpy.unique(ids)),
               "sum_n": sum(v for v in cols[1] if v is not None), "sum_counter": sum(v for v in cols[5] if v is not None)}
    return figures, (ids[order], hashes[order])


def compare(source, lake):
    """(ok, note): the lake's fingerprint against the source's."""
    (want, (ids, hashes)), (got, (lids, lhashes)) = source, lake
    notes = [f"{k}: source {want[k]}, lake {got[k]}" for k in want if want[k] != got[k]]
    missing = numpy.setdiff1d(ids, lids)
    extra = numpy.setdiff1d(lids, ids)
    if len(missing) or len(extra):
        notes.append(f"{len(missing)} ids missing (e.g. {missing[:3].tolist()}), {len(extra)} extra "
                     f"(e.g. {extra[:3].tolist()})")
    if got["distinct_ids"] != got["rows"]:
        notes.append(f"{got['rows'] - got['distinct_ids']} duplicate rows of an id")
    else:
        common, si, li = numpy.intersect1d(ids, lids, assume_unique=True, return_indices=True)
        differ = common[hashes[si] != lhashes[li]]
        if len(differ):
            notes.append(f"{len(differ)} rows differ (e.g. ids {differ[:3].tolist()})")
    if notes:
        return False, "; ".join(notes)
    return True, f"{want['rows']:,} rows equal, column by column"


def reference_table(pg, location):
    """Writes the source table to a Delta table with the deltalake package (no Inlet): the
    check's own check, for runs without Inlet."""
    from deltalake import write_deltalake
    rows = pg.query(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}")
    schema = pyarrow.schema([("id", pyarrow.int64()), ("n", pyarrow.int64()), ("name", pyarrow.string()),
                             ("amount", pyarrow.decimal128(12, 2)), ("updated_at", pyarrow.timestamp("us", "UTC")),
                             ("counter", pyarrow.int32())])
    write_deltalake(location, pyarrow.Table.from_pylist([dict(zip(COLUMNS, r)) for r in rows], schema=schema))
