//! Applying a mapping set to Arrow record batches: each `ATTRIBUTE` entry copies a source
//! column under its destination, each `STATIC` entry adds a constant, and dotted
//! destinations (`address.city`) become struct columns. Only mapped fields are written.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, StructArray, new_null_array,
};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef};
use serde_json::Value;

use super::Mapping;

/// A mapping that cannot be applied to a table's columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("mapping source `{0}` is not a column of the source table; its columns are: {1}")]
    MissingColumn(String, String),
    #[error("mapping destination `{0}` is used twice, or both as a field and as a parent of fields")]
    Clash(String),
    #[error("mapping destination `{0}` has an empty part")]
    EmptyPath(String),
}

/// How one output field is computed.
#[derive(Debug, Clone)]
enum Node {
    Column(usize),
    Constant(Value),
    Struct(Vec<(String, Node)>),
}

/// A mapping set bound to one input schema: built once per run, applied to every batch.
#[derive(Debug, Clone)]
pub struct MappingPlan {
    root: Vec<(String, Node)>,
    output: SchemaRef,
}

impl MappingPlan {
    /// Binds `mappings` to the columns of `input`.
    pub fn new(input: &Schema, mappings: &[Mapping]) -> Result<MappingPlan, PlanError> {
        let mut root: Vec<(String, Node)> = Vec::new();
        for mapping in mappings {
            let (destination, node) = match mapping {
                Mapping::Attribute { source, destination } => {
                    let index = input.index_of(source).map_err(|_| {
                        let names: Vec<&str> = input.fields().iter().map(|f| f.name().as_str()).collect();
                        PlanError::MissingColumn(source.clone(), names.join(", "))
                    })?;
                    (destination, Node::Column(index))
                }
                Mapping::Static { value, destination } => (destination, Node::Constant(value.clone())),
            };
            let path: Vec<&str> = destination.split('.').collect();
            if path.iter().any(|p| p.is_empty()) {
                return Err(PlanError::EmptyPath(destination.clone()));
            }
            insert(&mut root, &path, node).map_err(|()| PlanError::Clash(destination.clone()))?;
        }
        let fields: Vec<Field> = root.iter().map(|(name, node)| field(name, node, input)).collect();
        Ok(MappingPlan {
            root,
            output: Arc::new(Schema::new(fields)),
        })
    }

    /// The schema of the mapped batches.
    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    /// Maps one batch.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let columns = self
            .root
            .iter()
            .zip(self.output.fields().iter())
            .map(|((_, node), field)| evaluate(node, field, batch))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(self.output.clone(), columns)
    }
}

fn insert(level: &mut Vec<(String, Node)>, path: &[&str], node: Node) -> Result<(), ()> {
    let (head, rest) = path.split_first().expect("paths are not empty");
    let existing = level.iter_mut().find(|(name, _)| name == head);
    match (existing, rest.is_empty()) {
        (None, true) => level.push((head.to_string(), node)),
        (None, false) => {
            let mut children = Vec::new();
            insert(&mut children, rest, node)?;
            level.push((head.to_string(), Node::Struct(children)));
        }
        (Some((_, Node::Struct(children))), false) => insert(children, rest, node)?,
        (Some(_), _) => return Err(()),
    }
    Ok(())
}

fn field(name: &str, node: &Node, input: &Schema) -> Field {
    match node {
        Node::Column(index) => {
            let source = input.field(*index);
            Field::new(name, source.data_type().clone(), source.is_nullable())
        }
        Node::Constant(value) => Field::new(name, constant_type(value), value.is_null()),
        Node::Struct(children) => {
            let fields: Fields = children.iter().map(|(child, node)| field(child, node, input)).collect();
            Field::new(name, DataType::Struct(fields), false)
        }
    }
}

/// The Arrow type of a static value: JSON numbers keep their kind; objects and arrays
/// are written as their JSON text.
fn constant_type(value: &Value) -> DataType {
    match value {
        Value::Bool(_) => DataType::Boolean,
        Value::Number(n) if n.is_i64() => DataType::Int64,
        Value::Number(_) => DataType::Float64,
        _ => DataType::Utf8,
    }
}

fn evaluate(node: &Node, field: &Field, batch: &RecordBatch) -> Result<ArrayRef, ArrowError> {
    let rows = batch.num_rows();
    Ok(match (node, field.data_type()) {
        (Node::Column(index), _) => batch.column(*index).clone(),
        (Node::Constant(value), _) => constant(value, rows),
        (Node::Struct(children), DataType::Struct(fields)) => {
            let arrays = children
                .iter()
                .zip(fields.iter())
                .map(|((_, child), child_field)| evaluate(child, child_field, batch))
                .collect::<Result<Vec<_>, _>>()?;
            Arc::new(StructArray::try_new(fields.clone(), arrays, None)?)
        }
        (Node::Struct(_), other) => {
            return Err(ArrowError::SchemaError(format!(
                "mapped struct `{}` planned as {other}",
                field.name()
            )));
        }
    })
}

fn constant(value: &Value, rows: usize) -> ArrayRef {
    match value {
        Value::Null => new_null_array(&DataType::Utf8, rows),
        Value::Bool(b) => Arc::new(BooleanArray::from(vec![*b; rows])),
        Value::Number(n) if n.is_i64() => Arc::new(Int64Array::from_value(n.as_i64().unwrap_or_default(), rows)),
        Value::Number(n) => Arc::new(Float64Array::from_value(n.as_f64().unwrap_or_default(), rows)),
        Value::String(s) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(s.as_str(), rows))),
        other => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            other.to_string(),
            rows,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int32Array};
    use serde_json::json;

    fn orders() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("city", DataType::Utf8, true),
            Field::new("zip", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("Oslo"), None])),
                Arc::new(StringArray::from(vec![Some("0150"), Some("5003")])),
            ],
        )
        .unwrap()
    }

    fn attribute(source: &str, destination: &str) -> Mapping {
        Mapping::Attribute {
            source: source.into(),
            destination: destination.into(),
        }
    }

    #[test]
    fn renames_nests_and_adds_constants_and_nothing_else() {
        let mappings = vec![
            attribute("id", "order_id"),
            attribute("city", "address.city"),
            attribute("zip", "address.zip"),
            Mapping::Static {
                value: json!("pg"),
                destination: "source".into(),
            },
        ];
        let batch = orders();
        let plan = MappingPlan::new(&batch.schema(), &mappings).unwrap();
        let out = plan.apply(&batch).unwrap();
        let schema = out.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["order_id", "address", "source"]);
        assert_eq!(
            out.column(0).as_any().downcast_ref::<Int32Array>().unwrap().values(),
            &[1, 2]
        );
        let address = out.column(1).as_any().downcast_ref::<StructArray>().unwrap();
        let city = address
            .column_by_name("city")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!((city.value(0), city.is_null(1)), ("Oslo", true));
        let source = out.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((source.value(0), source.value(1)), ("pg", "pg"));
        assert_eq!(out.schema(), plan.output_schema());
    }

    #[test]
    fn bad_mappings_are_named() {
        let schema = orders().schema();
        let missing = MappingPlan::new(&schema, &[attribute("nope", "x")]).unwrap_err();
        assert!(missing.to_string().contains("`nope`") && missing.to_string().contains("id, city, zip"));
        let clash = MappingPlan::new(&schema, &[attribute("id", "a"), attribute("city", "a.b")]).unwrap_err();
        assert_eq!(clash, PlanError::Clash("a.b".into()));
        assert_eq!(
            MappingPlan::new(&schema, &[attribute("id", "a..b")]).unwrap_err(),
            PlanError::EmptyPath("a..b".into())
        );
    }
}
