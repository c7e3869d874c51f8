//! Schema changes at the source, as a run records them (`inletSchemaChanges`) and a flow's
//! policy decides them (docs/flows.md, "When the source's columns change"). Leaf types:
//! the lake classifies changes, the flows decide what to do, the store keeps the record.

use serde::{Deserialize, Serialize};

/// The Arrow field (and Delta column) metadata that carries a column's number in its
/// source table ([`crate::sources::schema::ColumnInfo::position`]): the same number under
/// another name is a rename.
pub const SOURCE_POSITION: &str = "inlet.sourcePosition";

/// The run error code of a flow paused by a schema change.
pub const SCHEMA_CHANGE_PAUSED: &str = "SCHEMA_CHANGE_PAUSED";

/// How a column of the data differs from the dataset's column of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SchemaChangeKind {
    /// The source has a column the dataset lacks.
    Added,
    /// The dataset has a column the source no longer gives.
    Dropped,
    /// The column's type now holds every value it held before, and more (int → bigint,
    /// float → double, numeric(10,2) → numeric(14,2), date → timestamp).
    Widened,
    /// The column may now hold NULL where it could not before.
    NullAllowed,
    /// The column's new type cannot hold every earlier value (bigint → int, text → int,
    /// numeric(14,2) → numeric(10,2)), or is another type altogether.
    TypeChanged,
    /// The column has another name at the source (the same PostgreSQL `attnum`): `column`
    /// is the new name, `from` and `to` the old and the new name.
    Renamed,
    /// The key rows are merged by is other columns now (`mergeByKey`, change data
    /// capture); `column` names the new key, `from` and `to` the key's columns.
    KeyChanged,
}

impl SchemaChangeKind {
    /// The kind as shown and counted (`added`, `typeChanged`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaChangeKind::Added => "added",
            SchemaChangeKind::Dropped => "dropped",
            SchemaChangeKind::Widened => "widened",
            SchemaChangeKind::NullAllowed => "nullAllowed",
            SchemaChangeKind::TypeChanged => "typeChanged",
            SchemaChangeKind::Renamed => "renamed",
            SchemaChangeKind::KeyChanged => "keyChanged",
        }
    }

    /// Whether only a resnapshot can take the change: taking it into the dataset as it is
    /// would cast values or mix rows merged by two keys.
    pub fn needs_resnapshot(self) -> bool {
        matches!(self, SchemaChangeKind::TypeChanged | SchemaChangeKind::KeyChanged)
    }
}

/// What a run did about a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SchemaAction {
    /// The dataset took the change in the run's commit (a new column, a wider type).
    Applied,
    /// The dataset keeps the column; rows from this run on hold NULL in it.
    Kept,
    /// The change was left out of the dataset (`ignore`: the new column is not written).
    Ignored,
    /// The flow stopped at this run: its windows wait until the user chooses.
    Paused,
    /// The dataset was replaced by the whole table under its new schema (`resnapshot`).
    Resnapshot,
}

impl SchemaAction {
    /// The action as shown and counted.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaAction::Applied => "applied",
            SchemaAction::Kept => "kept",
            SchemaAction::Ignored => "ignored",
            SchemaAction::Paused => "paused",
            SchemaAction::Resnapshot => "resnapshot",
        }
    }
}

/// One column's change and what the run did about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaChange {
    pub column: String,
    pub kind: SchemaChangeKind,
    /// The dataset's type before (Delta's name, e.g. `integer`, `decimal(10,2)`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The source's type now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub action: SchemaAction,
}

impl SchemaChange {
    /// `column x: integer → long (widened, applied)`.
    pub fn describe(&self) -> String {
        let types = match (&self.from, &self.to) {
            (Some(from), Some(to)) => format!(": {from} → {to}"),
            (None, Some(to)) => format!(": {to}"),
            (Some(from), None) => format!(": {from}"),
            (None, None) => String::new(),
        };
        format!("column `{}`{types} ({})", self.column, self.kind.as_str())
    }
}

/// The user's choice for a run paused by a schema change, carried by its re-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SchemaChoice {
    /// Apply the changes the `propagate` policy would (once, for this run).
    Accept,
    /// Replace the dataset with the whole table under its new schema, up to this run's
    /// window; later windows land on top as usual.
    Resnapshot,
}

impl SchemaChoice {
    /// The choice as `schemaChanges` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaChoice::Accept => "accept",
            SchemaChoice::Resnapshot => "resnapshot",
        }
    }

    /// The values `schemaChanges` takes.
    pub const NAMES: &'static str = "accept or resnapshot";

    /// Reads a choice, in any case.
    pub fn parse(text: &str) -> Option<SchemaChoice> {
        match text.to_ascii_lowercase().as_str() {
            "accept" => Some(SchemaChoice::Accept),
            "resnapshot" => Some(SchemaChoice::Resnapshot),
            _ => None,
        }
    }
}
