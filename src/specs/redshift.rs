//! The Amazon Redshift connection spec (`amazon-redshift`).

use super::common::{self, DRAFT_07, PROVIDER_ID};
use super::{BASIC_AUTH, REDSHIFT_SPEC_ID};
use crate::sources::limits;
use serde_json::{Value, json};

/// The spec document served by `GET /connectionSpecs/{id}`.
pub(super) fn document() -> Value {
    json!({
        "id": REDSHIFT_SPEC_ID,
        "name": "amazon-redshift",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "attributes": {"category": "database", "isSource": true, "isDestination": false},
        "authSpec": [
            {
                "name": BASIC_AUTH,
                "type": "RedshiftBasicAuth",
                "spec": basic_schema()
            }
        ],
        "sourceSpec": common::source_spec("Amazon Redshift", "amazon-redshift"),
        "exploreSpec": common::explore_spec()
    })
}

fn basic_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Connects to an Amazon Redshift cluster or workgroup.",
        "properties": {
            "server": common::host(
                "Endpoint host name of the cluster or workgroup, without port or database \
                 (e.g. `examplecluster.abc123.us-west-2.redshift.amazonaws.com`)."
            ),
            "port": common::port(5439),
            "database": common::text("Name of the database to connect to."),
            "username": common::text("User name to log in as."),
            "password": common::secret("Password of that user.", limits::PASSWORD),
            "schema": common::text(
                "Schema to explore. When given, explore lists only its tables and views."
            ),
            "sslMode": common::ssl_mode("Verify-Full"),
            "sslRootCert": common::ssl_root_cert(
                "the system's trusted roots, which include the Amazon roots that sign \
                 Redshift certificates"
            )
        },
        "required": ["server", "database", "username", "password"],
        "additionalProperties": false
    })
}
