//! The PostgreSQL connection spec (`postgre-sql`).

use super::common::{self, DRAFT_07, PROVIDER_ID};
use super::{BASIC_AUTH, CONNECTION_STRING_AUTH, POSTGRES_SPEC_ID};
use crate::sources::limits;
use serde_json::{Value, json};

/// The spec document served by `GET /connectionSpecs/{id}`.
pub(super) fn document() -> Value {
    json!({
        "id": POSTGRES_SPEC_ID,
        "name": "postgre-sql",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "attributes": {"category": "database", "isSource": true, "isDestination": false},
        "authSpec": [
            {
                "name": CONNECTION_STRING_AUTH,
                "type": "PostgreSQLConnectionStringAuth",
                "spec": connection_string_schema()
            },
            {
                "name": BASIC_AUTH,
                "type": "PostgreSQLBasicAuth",
                "spec": basic_schema()
            }
        ],
        "sourceSpec": common::source_spec("PostgreSQL", "postgresql"),
        "exploreSpec": common::explore_spec()
    })
}

fn connection_string_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Connects to PostgreSQL with an ODBC-style connection string.",
        "properties": {
            "connectionString": common::secret(
                "`Key=Value;...` with the keys Server (host, IPv4 or [IPv6], optionally \
                 :port), Database, Port (default 5432), UID (or User ID, User, \
                 Username), Password (or PWD), EncryptionMethod (0 no TLS, the default; \
                 1 TLS required; 6 TLS when the server offers it), \
                 ValidateServerCertificate (1, the default: verify the chain and the \
                 host name; 0: do not), TrustStore (PEM text or path of CA \
                 certificates), HostNameInCertificate. Keys are case-insensitive; wrap \
                 a value that contains `;` in `{...}` and write `}` inside it as `}}`. \
                 TrustStore paths are accepted only inside the server's trust store \
                 directory. At most 70,000 characters (a password at most 1,024, \
                 PEM text at most 65,536).",
                limits::CONNECTION_STRING
            )
        },
        "required": ["connectionString"],
        "additionalProperties": false
    })
}

fn basic_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Connects to PostgreSQL with a host, a database, a user and a password.",
        "properties": {
            "server": common::host("Host name or IP address of the PostgreSQL server."),
            "port": common::port(5432),
            "database": common::text("Name of the database to connect to."),
            "username": common::text("User name to log in as."),
            "password": common::secret("Password of that user.", limits::PASSWORD),
            "sslMode": common::ssl_mode("Prefer"),
            "sslRootCert": common::ssl_root_cert("the system's trusted roots")
        },
        "required": ["server", "database", "username", "password"],
        "additionalProperties": false
    })
}
