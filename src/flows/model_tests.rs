use serde_json::json;

use super::*;
use crate::flows::params::{FlowOptions, parse_options, parse_transformations};
use crate::flows::schedule::Frequency;

fn tenant() -> Tenant {
    Tenant {
        org: "O@AdobeOrg".into(),
        sandbox: "prod".into(),
    }
}

#[test]
fn a_stored_flow_reads_back_as_its_model() {
    let doc = json!({
        "id": "f1", "name": "orders", "state": "disabled",
        "sourceConnectionIds": ["s1"], "targetConnectionIds": ["t1"],
        "transformations": [
            {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at", "dateFormat": "YYYY-MM-DD"}}},
            {"name": "mapping", "params": {"mappingId": "m1", "mappingVersion": "2"}}],
        "scheduleParams": {"startTime": "1000", "frequency": "minute", "interval": "15", "backfill": "true"},
        "options": {"partialIngestionPercent": "5"},
    });
    let flow = Flow::from_doc(&tenant(), &doc).unwrap();
    assert!(!flow.enabled);
    assert_eq!(flow.source_connection_id, "s1");
    assert_eq!(
        flow.delta_column,
        Some(DeltaColumn {
            name: "updated_at".into(),
            timezone: "UTC".into()
        })
    );
    assert_eq!(
        flow.mapping,
        Some(MappingRef {
            id: "m1".into(),
            version: 2
        })
    );
    assert_eq!(flow.schedule.frequency, Frequency::Minute);
    assert!(
        flow.schedule.backfill,
        "a start in the past is no error for a stored flow"
    );
    assert!(flow.partial_ingestion);
    assert_eq!(flow.partial_ingestion_percent, Some(5.0));
}

#[test]
fn connections_read_back_as_their_models() {
    let source = json!({"id": "s1", "baseConnectionId": "c1",
        "params": {"tableName": "\"My Schema\".orders", "columns": [{"name": "id", "type": "long"}, "city"]}});
    let source = SourceConnection::from_doc(&tenant(), &source).unwrap();
    assert_eq!(source.table.schema, "My Schema");
    assert_eq!(source.columns, Some(vec!["id".to_string(), "city".to_string()]));
    let target = TargetConnection::from_doc(&tenant(), &json!({"id": "t1", "params": {"dataSetId": "d1"}})).unwrap();
    assert_eq!(target.dataset_id, "d1");
    let broken = TargetConnection::from_doc(&tenant(), &json!({"id": "t2", "params": {}})).unwrap_err();
    assert!(broken.to_string().contains("t2"), "{broken}");
}

#[test]
fn transformation_and_option_rules_name_their_paths() {
    let paths = |value: Value| -> Vec<String> {
        parse_transformations(&value)
            .unwrap_err()
            .into_iter()
            .map(|v| v.path)
            .collect()
    };
    assert_eq!(
        paths(json!([{"name": "Copy", "params": {"deltaColumn": {"name": ""}}}])),
        ["/transformations/0/params/deltaColumn/name"]
    );
    assert_eq!(
        paths(json!([{"name": "Copy", "params": {"deltaColumn": {"name": "u", "timezone": "Mars/Olympus"}}}])),
        ["/transformations/0/params/deltaColumn/timezone"]
    );
    assert_eq!(
        paths(json!([{"name": "Mapping", "params": {}}])),
        ["/transformations/0/params/mappingId"]
    );
    assert_eq!(paths(json!([{"name": "Filter"}])), ["/transformations/0/name"]);
    assert_eq!(
        paths(json!([{"name": "Copy"}, {"name": "copy"}])),
        ["/transformations/1/name"]
    );
    assert_eq!(
        parse_transformations(&json!([{"name": "Mapping", "params": {"mappingId": "m", "mappingVersion": 0}}]))
            .unwrap()
            .mapping,
        Some(("m".into(), Some(0)))
    );
    assert!(parse_options(&json!({"partialIngestionPercent": 0})).is_err());
    assert!(parse_options(&json!({"errorDiagnosticsEnabled": "maybe"})).is_err());
    assert_eq!(parse_options(&json!(null)).unwrap(), FlowOptions::default());
}

#[test]
fn delta_column_zones_are_iana_names_or_fixed_offsets() {
    use crate::sources::read::window::Zone;
    for zone in ["UTC", "Z", "+02:00", "-0530", "+05", "Europe/Oslo"] {
        assert!(Zone::parse(zone).is_some(), "{zone}");
    }
    for zone in ["+5", "Mars/Olympus", "+15:00", ""] {
        assert!(Zone::parse(zone).is_none(), "{zone}");
    }
}

#[test]
fn a_column_type_that_is_not_a_name_is_refused_at_its_path() {
    for bad in [json!(0), json!(-1), json!(1.5), json!(""), json!(null), json!({"t": 1})] {
        let list = json!([{"name": "id", "type": "long"}, {"name": "n", "type": bad}]);
        let violations = column_types_given(&list);
        let paths: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        assert!(
            paths.iter().any(|p| p.contains("/params/columns/1/type")),
            "{bad}: {paths:?}"
        );
    }
    assert_eq!(
        column_names(&json!(["id", {"name": "n", "type": "integer"}])).unwrap(),
        ["id", "n"]
    );
}
