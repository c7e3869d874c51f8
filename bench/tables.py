"""The benchmark's tables (issue 5), generated in the database with generate_series and a
fixed seed, so every run of the benchmark reads the same bytes.

- `lineitem`: TPC-H's lineitem shape, 6,001,215 rows (4 lines per order), plus a timestamptz.
- `lineitem_1m`: the first 1,000,000 rows of `lineitem` (orders 1-250,000).
- `wide`: 2,000,000 rows of wider types: uuid, jsonb, text of 200-2,000 characters, int[]
  arrays, timestamptz, numeric(38,10), with some NULLs.

Text (comments, bodies) is cut from 1,024 chunks of 4,000 bytes of pseudo-random words drawn
from a 4,096-word vocabulary, so it compresses like prose rather than like repeated bytes.
Each INSERT draws all of a row's random numbers in one subquery over generate_series, in
order, after `setseed`: the data is the same on every machine.
"""

import time

FULL_ROWS = {"lineitem": 6_001_215, "lineitem_1m": 1_000_000, "wide": 2_000_000}
QUICK_ROWS = {"lineitem": 300_000, "lineitem_1m": 100_000, "wide": 100_000}

# Columns that identify a row: the harness checks their distinct count in every copy.
KEYS = {
    "lineitem": ["l_orderkey", "l_linenumber"],
    "lineitem_1m": ["l_orderkey", "l_linenumber"],
    "wide": ["id"],
}
# A bigint column for ConnectorX's partition_on.
PARTITION_ON = {"lineitem": "l_orderkey", "lineitem_1m": "l_orderkey", "wide": "id"}

SESSION = """
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET max_parallel_workers_per_gather = 0;
SET synchronous_commit = off;
"""

CHUNKS = """
SELECT setseed(0.1);
CREATE TEMP TABLE vocab AS
  SELECT i, translate(substr(md5('w' || i), 1, 2 + i % 9), '0123456789', 'etaoinshrl') AS w
  FROM generate_series(0, 4095) i;
CREATE TABLE bench_chunks (id int PRIMARY KEY, chunk bytea NOT NULL);
ALTER TABLE bench_chunks ALTER chunk SET STORAGE PLAIN;
INSERT INTO bench_chunks
  SELECT c, substring(convert_to(string_agg(v.w, ' ' ORDER BY p.n), 'UTF8') FROM 1 FOR 4000)
  FROM (SELECT c, n, floor(random() * 4096)::int AS i
        FROM generate_series(0, 1023) c, generate_series(1, 800) n) p
  JOIN vocab v USING (i)
  GROUP BY c;
ANALYZE bench_chunks;
"""

LINEITEM_DDL = """
CREATE TABLE {name} (
  l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
  l_linenumber integer NOT NULL,
  l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL,
  l_discount numeric(15,2) NOT NULL, l_tax numeric(15,2) NOT NULL,
  l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
  l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
  l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL,
  l_comment varchar(44) NOT NULL,
  l_updated_at timestamptz NOT NULL
);
"""

LINEITEM_FILL = """
SELECT setseed(0.2);
INSERT INTO lineitem
SELECT (g + 3) / 4, 1 + floor(r1 * 200000)::bigint, 1 + floor(r2 * 10000)::bigint, (g - 1) % 4 + 1,
  q, (q * (90000 + floor(r3 * 110000)::numeric) / 100)::numeric(15,2),
  (floor(r4 * 11)::numeric / 100)::numeric(15,2), (floor(r5 * 9)::numeric / 100)::numeric(15,2),
  substr('RAN', 1 + floor(r6 * 3)::int, 1),
  CASE WHEN ship > date '1995-06-17' THEN 'O' ELSE 'F' END,
  ship, ship + (floor(r7 * 61) - 30)::int, ship + 1 + floor(r8 * 30)::int,
  (ARRAY['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])[1 + floor(r9 * 4)::int],
  (ARRAY['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])[1 + floor(r10 * 7)::int],
  convert_from(substring(c.chunk FROM 1 + floor(r11 * 3950)::int FOR 10 + floor(r12 * 34)::int), 'UTF8'),
  timestamptz '2020-01-01 00:00:00+00' + floor(r13 * 1.5e14) * interval '1 microsecond'
FROM (
  SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6,
    random() r7, random() r8, random() r9, random() r10, random() r11, random() r12, random() r13,
    (1 + floor(random() * 50))::numeric(15,2) AS q,
    date '1992-01-02' + floor(random() * 2405)::int AS ship,
    floor(random() * 1024)::int AS chunk_id
  FROM generate_series(1, {rows}) g
) r JOIN bench_chunks c ON c.id = r.chunk_id;
ALTER TABLE lineitem ADD PRIMARY KEY (l_orderkey, l_linenumber);
"""

LINEITEM_1M_FILL = """
INSERT INTO lineitem_1m SELECT * FROM lineitem WHERE l_orderkey <= {orders} ORDER BY l_orderkey, l_linenumber;
ALTER TABLE lineitem_1m ADD PRIMARY KEY (l_orderkey, l_linenumber);
"""

WIDE_DDL = """
CREATE TABLE wide (
  id bigint PRIMARY KEY, u uuid NOT NULL, doc jsonb, body text NOT NULL, tags int[],
  updated_at timestamptz NOT NULL, amount numeric(38,10)
);
"""

WIDE_FILL = """
SELECT setseed(0.3);
INSERT INTO wide
SELECT g,
  md5(g || ':' || r1)::uuid,
  CASE WHEN r2 < 0.01 THEN NULL ELSE jsonb_build_object(
    'id', g, 'kind', (ARRAY['order', 'refund', 'visit', 'signup', 'churn'])[1 + floor(r3 * 5)::int],
    'score', floor(r4 * 1000)::int, 'active', r5 < 0.5, 'ratio', round(r6::numeric, 4),
    'labels', jsonb_build_array('l' || floor(r7 * 50)::int, 'l' || floor(r8 * 50)::int)) END,
  convert_from(substring(c.chunk FROM 1 + floor(r9 * (4000 - len))::int FOR len), 'UTF8'),
  CASE WHEN r10 < 0.02 THEN NULL
       ELSE (ARRAY[a1, a2, a3, a4, a5, a6, a7, a8, a9, a10])[1:floor(r11 * 11)::int] END,
  timestamptz '2020-01-01 00:00:00+00' + floor(r12 * 1.5e14) * interval '1 microsecond',
  CASE WHEN r13 < 0.01 THEN NULL
       ELSE (CASE WHEN r14 < 0.5 THEN -1 ELSE 1 END
             * (floor(r15 * 1e12)::numeric + floor(r16 * 1e10)::numeric * 0.0000000001))::numeric(38,10) END
FROM (
  SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6,
    random() r7, random() r8, random() r9, random() r10, random() r11, random() r12,
    random() r13, random() r14, random() r15, random() r16,
    floor(random() * 1e6)::int a1, floor(random() * 1e6)::int a2, floor(random() * 1e6)::int a3,
    floor(random() * 1e6)::int a4, floor(random() * 1e6)::int a5, floor(random() * 1e6)::int a6,
    floor(random() * 1e6)::int a7, floor(random() * 1e6)::int a8, floor(random() * 1e6)::int a9,
    floor(random() * 1e6)::int a10,
    200 + floor(random() * 1801)::int AS len,
    floor(random() * 1024)::int AS chunk_id
  FROM generate_series(1, {rows}) g
) r JOIN bench_chunks c ON c.id = r.chunk_id;
"""


def generate(pg, rows, log):
    """Creates and fills the tables, then VACUUM (FREEZE, ANALYZE)s them (so no reader
    pays for hint bits); returns {step: seconds}."""
    timings = {}

    def step(name, sql):
        started = time.monotonic()
        pg.psql("bench", SESSION + sql)
        timings[name] = round(time.monotonic() - started, 1)
        log(f"  {name}: {timings[name]} s")

    step("text chunks", CHUNKS)
    step("lineitem", LINEITEM_DDL.format(name="lineitem") + LINEITEM_FILL.format(rows=rows["lineitem"]))
    orders = rows["lineitem_1m"] // 4
    step("lineitem_1m", LINEITEM_DDL.format(name="lineitem_1m") + LINEITEM_1M_FILL.format(orders=orders))
    step("wide", WIDE_DDL + WIDE_FILL.format(rows=rows["wide"]))
    step("vacuum freeze analyze", "VACUUM (FREEZE, ANALYZE) lineitem, lineitem_1m, wide;")
    for table, expected in rows.items():
        count = int(pg.psql("bench", f"SELECT count(*) FROM {table}"))
        if count != expected:
            raise RuntimeError(f"{table} has {count} rows, expected {expected}")
    return timings


def binary_copy_bytes(pg, table):
    """Size of `COPY t TO STDOUT (FORMAT binary)`, measured with `wc -c`."""
    import shlex
    import subprocess

    cmd = " ".join(shlex.quote(a) for a in pg.tcp_psql_cmd(f"COPY {table} TO STDOUT (FORMAT binary)"))
    out = subprocess.run(f"set -o pipefail; {cmd} | wc -c", shell=True, executable="/bin/bash",
                         env=pg.tcp_env(), capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def table_facts(pg, table):
    """On-disk size and column types of a table, for the report."""
    size = pg.query(f"SELECT pg_total_relation_size('{table}')")[0][0]
    columns = pg.query(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
    return {"relation_bytes": size, "columns": [{"name": n, "type": t} for n, t in columns]}
