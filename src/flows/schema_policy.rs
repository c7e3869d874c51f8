//! What a flow does when the source's columns differ from its dataset's: the policy a
//! flow chooses (`Copy` params `schemaChangePolicy`), the user's choice for a paused flow
//! (`op=re-trigger&schemaChanges=...`), and the decision for one run (docs/flows.md).

use arrow_schema::SchemaRef;

use super::engine::Engine;
use super::failure::RunFailure;
use super::plan::RunPlan;
use crate::lake::{Difference, Evolution};
use crate::schema_changes::{SchemaAction, SchemaChange, SchemaChangeKind, SchemaChoice};
use crate::store::RunRow;

pub use crate::schema_changes::SCHEMA_CHANGE_PAUSED;

/// A flow's schema change policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SchemaPolicy {
    /// New columns and wider types reach the dataset; dropped columns are kept (NULL from
    /// then on); other type changes pause.
    #[default]
    Propagate,
    /// Any change pauses the flow until the user chooses.
    Pause,
    /// New columns are not written; the rest as `Propagate`.
    Ignore,
}

impl SchemaPolicy {
    /// The values `schemaChangePolicy` takes.
    pub const NAMES: &'static str = "propagate, pause or ignore";

    /// Reads a policy name, in any case.
    pub fn parse(text: &str) -> Option<SchemaPolicy> {
        match text.to_ascii_lowercase().as_str() {
            "propagate" => Some(SchemaPolicy::Propagate),
            "pause" => Some(SchemaPolicy::Pause),
            "ignore" => Some(SchemaPolicy::Ignore),
            _ => None,
        }
    }
}

/// What a run's data is compared with its dataset by.
pub(super) struct Compared<'a> {
    /// The columns the run read (after its mapping).
    pub(super) schema: &'a SchemaRef,
    /// Change data capture reads every column as nullable (a delete carries only its
    /// key): `false` leaves nullability out of the comparison.
    pub(super) nullability_known: bool,
    /// The key a merging run merges by (`mergeByKey`, change data capture).
    pub(super) key: Option<&'a [String]>,
}

impl Engine {
    /// Compares the schema of the run's data with its dataset's and decides what the
    /// write does about the differences, recording each change on the run. A resnapshot
    /// the user chose replaces the dataset's schema whole.
    pub(super) async fn schema_evolution(
        &self,
        run: &mut RunRow,
        plan: &RunPlan,
        data: Compared<'_>,
    ) -> Result<Evolution, RunFailure> {
        let Some(table) = self.target.schema(&plan.dataset_id).await? else {
            return Ok(Evolution::default());
        };
        let mut differences = crate::lake::differences(&table, data.schema)?;
        if !data.nullability_known {
            differences.retain(|d| d.kind != SchemaChangeKind::NullAllowed);
        }
        if let Some(key) = data.key {
            differences.extend(crate::lake::key_difference(&table, key));
        }
        let (outcome, changes) = decide(plan.flow.schema_policy, run.details.schema_choice, &differences);
        let outcome =
            outcome.map_err(|paused| RunFailure::permanent(SCHEMA_CHANGE_PAUSED, pause_message(&paused, &run.id)));
        for change in &changes {
            self.metrics.schema_change(change.kind.as_str(), change.action.as_str());
        }
        if !changes.is_empty() {
            tracing::info!(run = %run.id, flow = %plan.flow.id, changes = ?changes, "the source's columns changed");
        }
        run.details.schema_changes = changes;
        outcome
    }
}

/// What one run does about the differences found: the dataset's evolution and the record
/// of each change, or the changes that pause the flow (with the record too). A resnapshot
/// the user chose replaces the dataset's schema whole.
pub fn decide(
    policy: SchemaPolicy,
    choice: Option<SchemaChoice>,
    differences: &[Difference],
) -> (Result<Evolution, Vec<SchemaChange>>, Vec<SchemaChange>) {
    let policy = match choice {
        Some(SchemaChoice::Accept) => SchemaPolicy::Propagate,
        Some(SchemaChoice::Resnapshot) => {
            // The table's schema is replaced whole: every change is taken, nothing cast.
            let changes = differences
                .iter()
                .map(|d| record(d, SchemaAction::Resnapshot))
                .collect();
            let evolution = Evolution {
                replace: true,
                ..Evolution::default()
            };
            return (Ok(evolution), changes);
        }
        None => policy,
    };
    let mut evolution = Evolution::default();
    let mut changes = Vec::with_capacity(differences.len());
    for difference in differences {
        let action = action(policy, difference.kind);
        let column = difference.column.clone();
        if difference.kind == SchemaChangeKind::Renamed
            && action != SchemaAction::Paused
            && let Some(old) = &difference.from
        {
            // The old name keeps the column's history; rows from now on hold NULL in it.
            evolution.fill.push(old.clone());
        }
        match (action, difference.kind) {
            (SchemaAction::Applied, SchemaChangeKind::Added | SchemaChangeKind::Renamed) => evolution.add.push(column),
            (SchemaAction::Applied, SchemaChangeKind::Widened) => evolution.widen.push(column),
            (SchemaAction::Applied, _) => evolution.relax.push(column),
            (SchemaAction::Kept, _) => evolution.fill.push(column),
            (SchemaAction::Ignored, _) => evolution.ignore.push(column),
            _ => {}
        }
        changes.push(record(difference, action));
    }
    let paused: Vec<SchemaChange> = changes
        .iter()
        .filter(|c| c.action == SchemaAction::Paused)
        .cloned()
        .collect();
    match paused.is_empty() {
        true => (Ok(evolution), changes),
        false => (Err(paused), changes),
    }
}

/// The record of `difference` and the `action` taken on it.
fn record(difference: &Difference, action: SchemaAction) -> SchemaChange {
    SchemaChange {
        column: difference.column.clone(),
        kind: difference.kind,
        from: difference.from.clone(),
        to: difference.to.clone(),
        action,
    }
}

/// The action `policy` takes on a change of `kind`.
fn action(policy: SchemaPolicy, kind: SchemaChangeKind) -> SchemaAction {
    use SchemaChangeKind::*;
    match (policy, kind) {
        (_, TypeChanged | KeyChanged) | (SchemaPolicy::Pause, _) => SchemaAction::Paused,
        (SchemaPolicy::Ignore, Added | Renamed) => SchemaAction::Ignored,
        (_, Added | Renamed | Widened | NullAllowed) => SchemaAction::Applied,
        (_, Dropped) => SchemaAction::Kept,
    }
}

fn pause_message(paused: &[SchemaChange], run_id: &str) -> String {
    let listed: Vec<String> = paused.iter().map(|c| c.describe()).collect();
    let narrowing = paused.iter().any(|c| c.kind.needs_resnapshot());
    let accept = match narrowing {
        true => "",
        false => "schemaChanges=accept applies them to the dataset; ",
    };
    let why = match narrowing {
        true => {
            "a new type that cannot hold every value the dataset holds, or a new key, cannot be taken into the \
                 dataset as it is: Inlet never casts a value nor mixes rows merged by two keys"
        }
        false => "the flow's schemaChangePolicy is pause",
    };
    format!(
        "the source's columns changed: {} ({why}). The flow's windows wait. Choose with \
         POST /runs/{run_id}/action?op=re-trigger&schemaChanges=<choice>: {accept}\
         schemaChanges=resnapshot replaces the dataset with the whole table under its new schema; \
         or change the column back at the source and re-trigger without a choice",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn difference(column: &str, kind: SchemaChangeKind, from: Option<&str>, to: Option<&str>) -> Difference {
        Difference {
            column: column.into(),
            kind,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    fn all_kinds() -> Vec<Difference> {
        use SchemaChangeKind::*;
        vec![
            difference("extra", Added, None, Some("string")),
            difference("n", Widened, Some("integer"), Some("long")),
            difference("gone", Dropped, Some("string"), None),
            difference("strict", NullAllowed, Some("string"), Some("string")),
        ]
    }

    #[test]
    fn propagate_adds_widens_keeps_and_relaxes() {
        let (evolution, changes) = decide(SchemaPolicy::Propagate, None, &all_kinds());
        let evolution = evolution.unwrap();
        assert_eq!(evolution.add, vec!["extra"]);
        assert_eq!(evolution.widen, vec!["n"]);
        assert_eq!(evolution.fill, vec!["gone"]);
        assert_eq!(evolution.relax, vec!["strict"]);
        assert!(evolution.ignore.is_empty());
        let actions: Vec<SchemaAction> = changes.iter().map(|c| c.action).collect();
        use SchemaAction::*;
        assert_eq!(actions, vec![Applied, Applied, Kept, Applied]);
    }

    #[test]
    fn ignore_leaves_new_columns_out_and_pause_stops_at_anything() {
        let (evolution, _) = decide(SchemaPolicy::Ignore, None, &all_kinds());
        let evolution = evolution.unwrap();
        assert_eq!(
            (evolution.ignore.clone(), evolution.add.len()),
            (vec!["extra".to_string()], 0)
        );
        assert_eq!(evolution.widen, vec!["n"]);
        let (paused, changes) = decide(SchemaPolicy::Pause, None, &all_kinds());
        let paused = paused.unwrap_err();
        assert_eq!(paused.len(), 4);
        assert!(changes.iter().all(|c| c.action == SchemaAction::Paused));
        let message = pause_message(&paused, "r1");
        for text in [
            "`extra`",
            "`n`: integer → long",
            "/runs/r1/action",
            "schemaChanges=accept",
            "schemaChanges=resnapshot",
        ] {
            assert!(message.contains(text), "{text} in {message}");
        }
        let (accepted, _) = decide(SchemaPolicy::Pause, Some(SchemaChoice::Accept), &all_kinds());
        assert_eq!(accepted.unwrap().add, vec!["extra"]);
    }

    #[test]
    fn a_narrowing_pauses_in_every_policy_and_cannot_be_accepted() {
        let narrowed = vec![difference(
            "n",
            SchemaChangeKind::TypeChanged,
            Some("long"),
            Some("integer"),
        )];
        for policy in [SchemaPolicy::Propagate, SchemaPolicy::Pause, SchemaPolicy::Ignore] {
            for choice in [None, Some(SchemaChoice::Accept)] {
                let (outcome, _) = decide(policy, choice, &narrowed);
                let message = pause_message(&outcome.unwrap_err(), "r1");
                assert!(message.contains("`n`: long → integer"), "{message}");
                assert!(!message.contains("schemaChanges=accept"), "{message}");
            }
        }
    }

    #[test]
    fn a_rename_keeps_the_old_name_and_adds_the_new_one_unless_ignored() {
        let renamed = vec![difference(
            "new_name",
            SchemaChangeKind::Renamed,
            Some("old_name"),
            Some("new_name"),
        )];
        let (evolution, changes) = decide(SchemaPolicy::Propagate, None, &renamed);
        let evolution = evolution.unwrap();
        assert_eq!(
            (evolution.add, evolution.fill),
            (vec!["new_name".to_string()], vec!["old_name".to_string()])
        );
        assert_eq!(changes[0].action, SchemaAction::Applied);
        let (evolution, _) = decide(SchemaPolicy::Ignore, None, &renamed);
        let evolution = evolution.unwrap();
        assert_eq!(
            (evolution.ignore, evolution.fill),
            (vec!["new_name".to_string()], vec!["old_name".to_string()])
        );
        assert!(decide(SchemaPolicy::Pause, None, &renamed).0.is_err());
    }

    #[test]
    fn a_resnapshot_takes_every_change_whole() {
        let mut all = all_kinds();
        all.push(difference(
            "n",
            SchemaChangeKind::TypeChanged,
            Some("long"),
            Some("integer"),
        ));
        let (evolution, changes) = decide(SchemaPolicy::Pause, Some(SchemaChoice::Resnapshot), &all);
        let evolution = evolution.unwrap();
        assert!(evolution.replace && evolution.add.is_empty());
        assert!(
            changes.iter().all(|c| c.action == SchemaAction::Resnapshot),
            "{changes:?}"
        );
    }

    #[test]
    fn names_parse_in_any_case() {
        assert_eq!(SchemaPolicy::parse("IGNORE"), Some(SchemaPolicy::Ignore));
        assert_eq!(SchemaPolicy::parse("evolve"), None);
        assert_eq!(SchemaChoice::parse("Resnapshot"), Some(SchemaChoice::Resnapshot));
        assert_eq!(SchemaChoice::parse(""), None);
    }
}
