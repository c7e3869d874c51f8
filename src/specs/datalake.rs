//! The Data Lake target connection spec (`datalake`) and the `CRMToAEP` flow spec.

use super::common::{DRAFT_07, PROVIDER_ID};
use super::{DATALAKE_SPEC_ID, FLOW_SPEC_ID, POSTGRES_SPEC_ID, REDSHIFT_SPEC_ID};
use serde_json::{Value, json};

/// The target spec document: no auth, params name a dataset.
pub(super) fn document() -> Value {
    json!({
        "id": DATALAKE_SPEC_ID,
        "name": "datalake",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "attributes": {"category": "datalake", "isSource": false, "isDestination": true},
        "authSpec": [],
        "targetSpec": {
            "name": "Data Lake",
            "attributes": {"dataFormats": ["delta", "parquet", "tabular"]},
            "spec": {
                "$schema": DRAFT_07,
                "type": "object",
                "description": "Parameters of a target connection: the dataset to write.",
                "properties": {
                    "dataSetId": {
                        "type": "string",
                        "description": "Id of a dataset of the same organization and \
                                        sandbox; each is a Delta Lake table."
                    }
                },
                "required": ["dataSetId"]
            }
        }
    })
}

/// The `CRMToAEP` flow spec: database sources to the data lake.
pub(super) fn flow_document() -> Value {
    json!({
        "id": FLOW_SPEC_ID,
        "name": "CRMToAEP",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "attributes": {"isSourceFlow": true, "frequency": "batch"},
        "sourceConnectionSpecIds": [POSTGRES_SPEC_ID, REDSHIFT_SPEC_ID],
        "targetConnectionSpecIds": [DATALAKE_SPEC_ID],
        "transformationSpecs": [
            {"name": "Copy", "spec": copy_schema()},
            {"name": "Mapping", "spec": mapping_schema()}
        ],
        "optionSpec": {"name": "OptionSpec", "spec": option_schema()},
        "scheduleSpec": {
            "name": "PeriodicSchedule",
            "type": "Periodic",
            "spec": schedule_schema()
        }
    })
}

fn copy_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Copies rows whose delta column falls in each run's window \
                        [start, end); without deltaColumn every run copies the whole table.",
        "properties": {
            "deltaColumn": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Column that grows as rows change (e.g. updated_at)."},
                    "dateFormat": {"type": "string"},
                    "timezone": {"type": "string"}
                },
                "required": ["name"]
            }
        }
    })
}

fn mapping_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Applies a mapping set to the copied rows.",
        "properties": {
            "mappingId": {"type": "string", "description": "Id of the mapping set."},
            "mappingVersion": {"type": ["string", "integer"], "description": "Version of the mapping set."}
        },
        "required": ["mappingId"]
    })
}

fn option_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "properties": {
            "partialIngestionPercent": {
                "type": ["number", "string"],
                "exclusiveMinimum": 0,
                "maximum": 100,
                "description": "Rows that fail to convert are skipped and counted instead of failing the run, \
                                until they exceed this share (percent) of the rows read."
            },
            "errorDiagnosticsEnabled": {"type": ["boolean", "string"], "default": false}
        }
    })
}

fn schedule_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "description": "Numbers and booleans may be given as strings.",
        "properties": {
            "startTime": {"type": ["string", "integer"], "description": "Epoch seconds, not in the past."},
            "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
            "interval": {
                "type": ["string", "integer"],
                "description": "Units of frequency between runs: at least 15 for minute, 1 otherwise; absent for once."
            },
            "backfill": {
                "type": ["string", "boolean"],
                "description": "When true the first window opens at the start of history, so existing rows are copied once."
            }
        },
        "required": ["startTime", "frequency"]
    })
}
