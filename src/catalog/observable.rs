//! A dataset's `observableSchema`: its table's Arrow schema as an XDM-like JSON schema,
//! with the same type names as explore's `xdm` field (§7).

use serde_json::{Map, Value, json};

use crate::lake::arrow::datatypes::{DataType, Field, Fields, Schema};

/// `{"type": "object", "properties": {column: {"type": ...}}}`; structs nest as objects,
/// lists as arrays with `items`, maps as objects with `additionalProperties`.
pub fn observable_schema(schema: &Schema) -> Value {
    object_of(schema.fields())
}

fn object_of(fields: &Fields) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|field| (field.name().clone(), type_of(field)))
        .collect();
    json!({"type": "object", "meta:xdmType": "object", "properties": properties})
}

fn type_of(field: &Field) -> Value {
    let integer = |width: &str| json!({"type": "integer", "meta:xdmType": width});
    match field.data_type() {
        DataType::Boolean => json!({"type": "boolean", "meta:xdmType": "boolean"}),
        DataType::Int8 => integer("byte"),
        DataType::Int16 => integer("short"),
        DataType::Int32 => integer("int"),
        DataType::Int64 => integer("long"),
        DataType::Float32 | DataType::Float64 => json!({"type": "number", "meta:xdmType": "number"}),
        DataType::Decimal128(precision, scale) => json!({
            "type": "number", "meta:xdmType": "number",
            "meta:decimal": {"precision": precision, "scale": scale}
        }),
        DataType::Date32 => json!({"type": "string", "format": "date", "meta:xdmType": "date"}),
        DataType::Timestamp(..) => json!({"type": "string", "format": "date-time", "meta:xdmType": "date-time"}),
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) | DataType::BinaryView => {
            json!({"type": "string", "contentEncoding": "base64", "meta:xdmType": "string"})
        }
        DataType::List(item) | DataType::LargeList(item) => {
            json!({"type": "array", "meta:xdmType": "array", "items": type_of(item)})
        }
        DataType::Struct(fields) => object_of(fields),
        DataType::Map(entries, _) => {
            let value = match entries.data_type() {
                DataType::Struct(parts) if parts.len() == 2 => type_of(&parts[1]),
                _ => json!({}),
            };
            json!({"type": "object", "meta:xdmType": "map", "additionalProperties": value})
        }
        _ => json!({"type": "string", "meta:xdmType": "string"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::arrow::datatypes::TimeUnit;
    use std::sync::Arc;

    #[test]
    fn columns_become_properties_and_structs_nest() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "address",
                DataType::Struct(vec![Field::new("city", DataType::Utf8, true)].into()),
                true,
            ),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("element", DataType::Int32, true))),
                true,
            ),
        ]);
        let observed = observable_schema(&schema);
        assert_eq!(observed["type"], "object");
        let properties = &observed["properties"];
        assert_eq!(properties["id"]["type"], "integer");
        assert_eq!(properties["id"]["meta:xdmType"], "long");
        assert_eq!(properties["at"]["format"], "date-time");
        assert_eq!(properties["address"]["properties"]["city"]["type"], "string");
        assert_eq!(properties["tags"]["items"]["meta:xdmType"], "int");
    }
}
