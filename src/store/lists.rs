//! Lists in SQL: `property` filters, order, keyset paging and counts, for resources (by
//! their searchable fields, `fields.rs`) and for runs (by their columns), the same on both
//! backends. A page is read by index: the tenant's rows of a kind in sort order, from the
//! cursor on, and only as many as the page needs (one more, to know whether more follow).

use sqlx::Row;
use sqlx::any::AnyArguments;
use sqlx::{Any, query::Query};

use super::resources::{COLUMNS as RESOURCE_COLUMNS, ResourceRow, read_row};
use super::runs::{COLUMNS as RUN_COLUMNS, RunRow, read_run};
use super::{Backend, Store, StoreError};
use crate::identity::Tenant;

/// What a `property` filter asks of the values at its path (docs/api.md, "Lists").
#[derive(Clone, Debug, PartialEq)]
pub enum FieldTest {
    Exists,
    Missing,
    /// Some value equals one of these.
    AnyOf(Vec<String>),
    /// No value equals this.
    NotEqual(String),
    Greater(String),
    Less(String),
    GreaterOrEqual(String),
    LessOrEqual(String),
    /// Some value's text contains this.
    Contains(String),
}

/// One filter: a dotted path and its test.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldFilter {
    pub path: String,
    pub test: FieldTest,
}

/// What a list is ordered by (then by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    CreatedAt,
    UpdatedAt,
    Name,
    Id,
}

/// A page by offset (Catalog's lists): filters, sort keys (each descending or not; ties
/// broken by id), how many to skip and to show.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetPage {
    pub filters: Vec<FieldFilter>,
    pub order: Vec<(SortBy, bool)>,
    pub start: usize,
    pub limit: usize,
}

/// A sort value of the last item of a page.
#[derive(Clone, Debug, PartialEq)]
pub enum SortValue {
    Number(i64),
    Text(String),
}

/// One page asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub filters: Vec<FieldFilter>,
    pub sort: SortBy,
    pub descending: bool,
    /// The sort value and id of the previous page's last item.
    pub after: Option<(SortValue, String)>,
    /// Rows to read: the page's size plus one, to know whether another page follows.
    pub rows: usize,
}

/// The run item paths a run list filters on, and their columns; `true` for a number.
pub const RUN_FIELDS: [(&str, &str, bool); 6] = [
    ("id", "r.id", false),
    ("flowId", "r.flow_id", false),
    ("createdAt", "r.created_at", true),
    ("updatedAt", "r.updated_at", true),
    ("windowNumber", "r.window_number", true),
    ("metrics.statusSummary.status", "r.status", false),
];

enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
}

/// SQL text with its bound values, numbered as they are added.
struct Sql {
    text: String,
    binds: Vec<Bind>,
    backend: Backend,
}

impl Sql {
    fn new(text: impl Into<String>, backend: Backend) -> Sql {
        Sql {
            text: text.into(),
            binds: Vec::new(),
            backend,
        }
    }

    /// A placeholder for `value`.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.bind(Bind::Text(value.to_string()))
    }

    fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Int(n) => query.bind(*n),
                Bind::Float(f) => query.bind(*f),
            };
        }
        query
    }

    /// `position of needle in haystack > 0`, as each backend spells it.
    fn contains(&self, haystack: &str, needle: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Backend::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }
}

impl Store {
    /// A page of the tenant's resources of `kind` (up to `page.rows` rows).
    pub async fn list_page(&self, kind: &str, tenant: &Tenant, page: &Page) -> Result<Vec<ResourceRow>, StoreError> {
        let mut sql = Sql::new("", self.backend);
        let scope = resource_scope(&mut sql, kind, tenant, &page.filters);
        let order = self.order(&mut sql, page, sort_column(page.sort, "r.name"));
        sql.text = format!("SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {scope}{order}");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(read_row).collect()
    }

    /// A page by offset of the tenant's resources of `kind`.
    pub async fn list_offset(
        &self,
        kind: &str,
        tenant: &Tenant,
        page: &OffsetPage,
    ) -> Result<Vec<ResourceRow>, StoreError> {
        let mut sql = Sql::new("", self.backend);
        let scope = resource_scope(&mut sql, kind, tenant, &page.filters);
        let mut keys: Vec<String> = page
            .order
            .iter()
            .map(|(sort, descending)| {
                format!(
                    "{} {}",
                    sort_column(*sort, "r.name"),
                    if *descending { "DESC" } else { "ASC" }
                )
            })
            .collect();
        // Ties go by id, in the direction of the first key.
        let descending = page.order.first().is_some_and(|(_, descending)| *descending);
        keys.push(format!("r.id {}", if descending { "DESC" } else { "ASC" }));
        sql.text = format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {scope} ORDER BY {} LIMIT {} OFFSET {}",
            keys.join(", "),
            page.limit,
            // Both backends take at most a signed 64-bit offset; no table is that long.
            page.start.min(i64::MAX as usize)
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(read_row).collect()
    }

    /// How many of the tenant's resources of `kind` pass `filters`.
    pub async fn count_page(&self, kind: &str, tenant: &Tenant, filters: &[FieldFilter]) -> Result<i64, StoreError> {
        let mut sql = Sql::new("", self.backend);
        let scope = resource_scope(&mut sql, kind, tenant, filters);
        sql.text = format!("SELECT COUNT(*) AS n FROM resources r WHERE {scope}");
        Ok(sql.query().fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// A page of the tenant's runs; every filter's path must be one of [`RUN_FIELDS`].
    pub async fn list_runs_page(&self, tenant: &Tenant, page: &Page) -> Result<Vec<RunRow>, StoreError> {
        let mut sql = Sql::new("", self.backend);
        let scope = run_scope(&mut sql, tenant, &page.filters)?;
        // Runs have no name: ordering by it is ordering by id alone, from the cursor's id.
        let mut page = page.clone();
        if page.sort == SortBy::Name {
            page.after = page.after.map(|(_, id)| (SortValue::Text(id.clone()), id));
        }
        let order = self.order(&mut sql, &page, sort_column(page.sort, "r.id"));
        let columns = RUN_COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        sql.text = format!("SELECT {columns} FROM runs r WHERE {scope}{order}");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(read_run).collect()
    }

    /// How many of the tenant's runs pass `filters`.
    pub async fn count_runs(&self, tenant: &Tenant, filters: &[FieldFilter]) -> Result<i64, StoreError> {
        let mut sql = Sql::new("", self.backend);
        let scope = run_scope(&mut sql, tenant, filters)?;
        sql.text = format!("SELECT COUNT(*) AS n FROM runs r WHERE {scope}");
        Ok(sql.query().fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// The keyset condition after the cursor, the order, and the limit.
    fn order(&self, sql: &mut Sql, page: &Page, column: &str) -> String {
        let (cmp, direction) = if page.descending { ("<", "DESC") } else { (">", "ASC") };
        let mut out = String::new();
        if let Some((value, id)) = &page.after {
            let key = match value {
                SortValue::Number(n) => sql.bind(Bind::Int(*n)),
                SortValue::Text(t) => sql.text(t),
            };
            let id = sql.text(id);
            // The first clause is a plain range on the sort column, so both databases
            // start the index scan at the cursor instead of filtering every row before it.
            out.push_str(&format!(
                " AND {column} {cmp}= {key} AND ({column} {cmp} {key} OR r.id {cmp} {id})"
            ));
        }
        out.push_str(&format!(
            " ORDER BY {column} {direction}, r.id {direction} LIMIT {}",
            page.rows
        ));
        out
    }
}

fn sort_column(sort: SortBy, name: &'static str) -> &'static str {
    match sort {
        SortBy::CreatedAt => "r.created_at",
        SortBy::UpdatedAt => "r.updated_at",
        SortBy::Name => name,
        SortBy::Id => "r.id",
    }
}

fn resource_scope(sql: &mut Sql, kind: &str, tenant: &Tenant, filters: &[FieldFilter]) -> String {
    let mut scope = format!(
        "r.kind = {} AND r.org = {} AND r.sandbox = {}",
        sql.text(kind),
        sql.text(&tenant.org),
        sql.text(&tenant.sandbox)
    );
    for filter in filters {
        scope.push_str(" AND ");
        scope.push_str(&field_condition(sql, filter));
    }
    scope
}

/// The condition of one filter on the searchable fields of resource `r`.
fn field_condition(sql: &mut Sql, filter: &FieldFilter) -> String {
    let path = sql.text(&filter.path);
    let values = format!("SELECT 1 FROM resource_fields f WHERE f.kind = r.kind AND f.id = r.id AND f.path = {path}");
    let (negated, test) = match &filter.test {
        FieldTest::Exists => (false, None),
        FieldTest::Missing => (true, None),
        FieldTest::AnyOf(options) => {
            let any: Vec<String> = options.iter().map(|v| equals(sql, v)).collect();
            (false, Some(format!("({})", any.join(" OR "))))
        }
        FieldTest::NotEqual(value) => (true, Some(equals(sql, value))),
        FieldTest::Contains(text) => {
            let needle = sql.text(text);
            (
                false,
                Some(format!("f.value_kind <> 'o' AND {}", sql.contains("f.str", &needle))),
            )
        }
        FieldTest::Greater(v) => (false, Some(compared(sql, ">", v))),
        FieldTest::Less(v) => (false, Some(compared(sql, "<", v))),
        FieldTest::GreaterOrEqual(v) => (false, Some(compared(sql, ">=", v))),
        FieldTest::LessOrEqual(v) => (false, Some(compared(sql, "<=", v))),
    };
    let inner = match test {
        Some(test) => format!("{values} AND {test}"),
        None => values,
    };
    format!("{}EXISTS ({inner})", if negated { "NOT " } else { "" })
}

/// A value equal to `text`: the same string, a number equal to it, or the boolean it
/// names (in any case).
fn equals(sql: &mut Sql, text: &str) -> String {
    let mut any = vec![format!("(f.value_kind = 's' AND f.str = {})", sql.text(text))];
    if let Ok(number) = text.parse::<f64>() {
        any.push(format!(
            "(f.value_kind = 'n' AND f.num = {})",
            sql.bind(Bind::Float(number))
        ));
    }
    if ["true", "false"].contains(&text.to_ascii_lowercase().as_str()) {
        any.push(format!(
            "(f.value_kind = 'b' AND f.str = {})",
            sql.text(&text.to_ascii_lowercase())
        ));
    }
    format!("({})", any.join(" OR "))
}

/// A value ordered `op` against the literal `text`: numbers by number when the literal is
/// one, everything else by its text, byte by byte.
fn compared(sql: &mut Sql, op: &str, text: &str) -> String {
    let number = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64);
    match number {
        Some(number) => {
            let as_number = sql.bind(Bind::Float(number.as_f64().unwrap_or_default()));
            let as_text = sql.text(&number.to_string());
            format!(
                "((f.value_kind = 'n' AND f.num {op} {as_number}) OR (f.value_kind IN ('s', 'b') AND f.str {op} {as_text}))"
            )
        }
        None => format!("(f.value_kind <> 'o' AND f.str {op} {})", sql.text(text)),
    }
}

fn run_scope(sql: &mut Sql, tenant: &Tenant, filters: &[FieldFilter]) -> Result<String, StoreError> {
    let mut scope = format!(
        "r.org = {} AND r.sandbox = {}",
        sql.text(&tenant.org),
        sql.text(&tenant.sandbox)
    );
    for filter in filters {
        let Some((_, column, numeric)) = RUN_FIELDS.iter().find(|(path, ..)| *path == filter.path) else {
            return Err(StoreError::Invalid(format!(
                "runs cannot be filtered by `{}`",
                filter.path
            )));
        };
        scope.push_str(" AND ");
        scope.push_str(&column_condition(sql, column, *numeric, &filter.test));
    }
    Ok(scope)
}

/// The condition of one filter on a column that always holds one value.
fn column_condition(sql: &mut Sql, column: &str, numeric: bool, test: &FieldTest) -> String {
    let value = |sql: &mut Sql, text: &str| -> Option<String> {
        if numeric {
            text.parse::<i64>().ok().map(|n| sql.bind(Bind::Int(n)))
        } else {
            Some(sql.text(text))
        }
    };
    let compare = |sql: &mut Sql, op: &str, text: &str| match value(sql, text) {
        Some(v) => format!("{column} {op} {v}"),
        None => "1 = 0".to_string(),
    };
    match test {
        FieldTest::Exists => "1 = 1".into(),
        FieldTest::Missing => "1 = 0".into(),
        FieldTest::AnyOf(options) => {
            let listed: Vec<String> = options.iter().filter_map(|o| value(sql, o)).collect();
            if listed.is_empty() {
                "1 = 0".into()
            } else {
                format!("{column} IN ({})", listed.join(", "))
            }
        }
        FieldTest::NotEqual(text) => match value(sql, text) {
            Some(v) => format!("{column} <> {v}"),
            None => "1 = 1".into(),
        },
        FieldTest::Contains(text) => {
            let needle = sql.text(text);
            let haystack = if numeric {
                format!("CAST({column} AS TEXT)")
            } else {
                column.to_string()
            };
            sql.contains(&haystack, &needle)
        }
        FieldTest::Greater(t) => compare(sql, ">", t),
        FieldTest::Less(t) => compare(sql, "<", t),
        FieldTest::GreaterOrEqual(t) => compare(sql, ">=", t),
        FieldTest::LessOrEqual(t) => compare(sql, "<=", t),
    }
}
