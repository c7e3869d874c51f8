//! What a table needs before it can be captured, checked when its source connection is
//! created, each missing piece refused with what to run to provide it: the server's
//! version and `wal_level`, the user's replication right, a free slot, the right to
//! create a publication for the table, a key to merge rows by, and column types whose
//! binary form Inlet reads.

use tokio_postgres::Client;

use super::failed;
use super::tuples::unsupported;
use crate::sources::changes::Refusal;
use crate::sources::postgres::decode::Wire;
use crate::sources::postgres::explore;
use crate::sources::read::select_columns;
use crate::sources::schema::object_path;
use crate::sources::{SourceError, TableRef};

/// PostgreSQL 14 added `pgoutput`'s `binary` and `messages` options.
const MIN_VERSION: i32 = 140000;

const SERVER: &str = "\
SELECT current_setting('server_version_num')::int4, current_setting('wal_level'),
       r.rolsuper,
       r.rolreplication OR (EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'rds_replication')
                            AND pg_has_role(current_user, 'rds_replication', 'MEMBER')),
       current_setting('max_replication_slots')::int4
         - (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int4,
       has_database_privilege(current_database(), 'CREATE'),
       current_user::text, current_database()::text
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

const TABLE: &str = "\
SELECT c.relkind::text, c.relreplident::text, pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner)::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2";

/// The columns of the index rows are merged by: the replica identity index when the
/// table names one, else the primary key; in index order.
const KEY: &str = "\
SELECT a.attname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
     AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE n.nspname = $1 AND c.relname = $2
ORDER BY k.position";

/// The key rows are merged by (see [`KEY`]); empty when the table has none.
pub async fn key_columns(client: &Client, table: &TableRef) -> Result<Vec<String>, SourceError> {
    let rows = client
        .query(KEY, &[&table.schema, &table.table])
        .await
        .map_err(failed("reading the table's key"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn refuse(what: &'static str, message: String) -> Result<Result<Vec<String>, Refusal>, SourceError> {
    Ok(Err(Refusal { what, message }))
}

/// Checks that `table` can be captured (see the module docs); its key's columns.
pub async fn check(
    client: &Client,
    table: &TableRef,
    columns: Option<&[String]>,
) -> Result<Result<Vec<String>, Refusal>, SourceError> {
    let path = object_path(table);
    let server = client
        .query_one(SERVER, &[])
        .await
        .map_err(failed("reading the server's replication settings"))?;
    let (version, wal_level): (i32, String) = (server.get(0), server.get(1));
    let (superuser, replication): (bool, bool) = (server.get(2), server.get(3));
    let (free_slots, may_create): (i32, bool) = (server.get(4), server.get(5));
    let (user, database): (String, String) = (server.get(6), server.get(7));
    if version < MIN_VERSION {
        let message = format!(
            "change data capture needs PostgreSQL 14 or later; this server is version {}",
            version / 10000
        );
        return refuse("server version", message);
    }
    if wal_level != "logical" {
        let message = format!(
            "the server's wal_level is {wal_level}; change data capture reads the log through logical decoding, \
             which needs wal_level = logical: set it in postgresql.conf (on Amazon RDS: rds.logical_replication = 1 \
             in the DB parameter group) and restart the server"
        );
        return refuse("wal_level", message);
    }
    if !superuser && !replication {
        let message = format!(
            "user {user} may not read the write-ahead log: grant it with ALTER ROLE {user} WITH REPLICATION \
             (on Amazon RDS: GRANT rds_replication TO {user})"
        );
        return refuse("replication privilege", message);
    }
    if free_slots <= 0 {
        let message = "the server has no free replication slot: raise max_replication_slots (and restart), or \
                       drop slots nobody reads (SELECT slot_name, active FROM pg_replication_slots)"
            .to_string();
        return refuse("replication slot", message);
    }
    let Some(row) = client
        .query_opt(TABLE, &[&table.schema, &table.table])
        .await
        .map_err(failed("reading the table's properties"))?
    else {
        return refuse("table", format!("table {path} does not exist, or you may not read it"));
    };
    let (kind, identity): (String, String) = (row.get(0), row.get(1));
    let (owns, owner): (bool, String) = (row.get(2), row.get(3));
    if kind != "r" {
        let message = format!(
            "{path} is not a plain table (relkind {kind}); only tables can be captured (a partitioned table's \
             partitions can, one source connection each)"
        );
        return refuse("table kind", message);
    }
    if !superuser && !owns {
        let message = format!(
            "creating the publication for {path} needs its owner's rights: GRANT {owner} TO {user}, or \
             ALTER TABLE {} OWNER TO {user}",
            table.quoted()
        );
        return refuse("table ownership", message);
    }
    if !superuser && !may_create {
        let message = format!(
            "creating a publication needs CREATE on the database: GRANT CREATE ON DATABASE {database} TO {user}"
        );
        return refuse("database privilege", message);
    }
    let key = key_columns(client, table).await?;
    if identity == "n" {
        let message = format!(
            "{path} has REPLICA IDENTITY NOTHING, so its updates and deletes carry no key: ALTER TABLE {} \
             REPLICA IDENTITY DEFAULT",
            table.quoted()
        );
        return refuse("table key", message);
    }
    if key.is_empty() {
        let message = format!(
            "{path} has no primary key to merge rows by: add one (ALTER TABLE {0} ADD PRIMARY KEY (...)), or make \
             a unique index on NOT NULL columns its replica identity (ALTER TABLE {0} REPLICA IDENTITY USING INDEX \
             ...); REPLICA IDENTITY FULL alone gives no key, so equal rows could not be told apart",
            table.quoted()
        );
        return refuse("table key", message);
    }
    if let Some(columns) = columns
        && let Some(missing) = key.iter().find(|k| !columns.contains(k))
    {
        let message =
            format!("the key column `{missing}` of {path} must be among params.columns: rows are merged by it");
        return refuse("table key", message);
    }
    let described = explore::describe(client, table).await?;
    let captured = select_columns(&described, columns)?;
    let unreadable: Vec<String> = captured
        .columns
        .iter()
        .filter(|c| Wire::native_for(c).is_none())
        .map(|c| unsupported(c).message)
        .collect();
    if !unreadable.is_empty() {
        return refuse("column types", unreadable.join("; "));
    }
    Ok(Ok(key))
}
