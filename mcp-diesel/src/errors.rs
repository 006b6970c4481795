//! How database and query errors reach the agent: worded, naming the field, never with
//! the database's own message (which goes to the log).

use mcp_core::ToolError;

use crate::model::{ModelInfo, QueryError};

/// The database's own message may contain SQL: it goes to the log for operators, never to
/// the agent.
pub(crate) fn log_failure(e: &dyn std::fmt::Display) {
    tracing::warn!(error = %e, "mcp-diesel query failed");
}

pub(crate) fn query_error<M: ModelInfo>(e: QueryError) -> ToolError {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        QueryError::Filter(f) => ToolError::invalid_arguments(f.0),
        QueryError::OutsideScope => ToolError::invalid_arguments(format!(
            "the {} row would be outside what you may see and change; nothing was written",
            M::NAME
        )),
        QueryError::Unsupported(action) => ToolError::internal(format!("{} has no {action} action", M::NAME)),
        QueryError::Database(Error::DatabaseError(kind, info)) => {
            log_failure(&info.message());
            let what = constraint_subject::<M>(&*info);
            match kind {
                Kind::UniqueViolation => ToolError::conflict(format!(
                    "another {} row already has this {what}; choose a different value",
                    M::NAME
                )),
                Kind::ForeignKeyViolation => ToolError::invalid_arguments(format!(
                    "the {what} refers to a row that does not exist (or is still referred to by other rows)"
                )),
                Kind::NotNullViolation => ToolError::invalid_arguments(format!("a value is required ({what})")),
                Kind::CheckViolation => ToolError::invalid_arguments(format!("the {what} breaks a rule of the table")),
                _ => ToolError::internal("the database could not run the query; try again or simplify the filter"),
            }
        }
        QueryError::Database(d) => {
            log_failure(&d);
            ToolError::internal("the database could not run the query; try again or simplify the filter")
        }
    }
}

/// What a constraint is about, in words an agent can use: a visible field's name when the
/// database names its column, else the constraint's name, never a hidden field.
fn constraint_subject<M: ModelInfo>(info: &dyn diesel::result::DatabaseErrorInformation) -> String {
    let message = info.message();
    // PostgreSQL names the column or constraint; SQLite says
    // "UNIQUE constraint failed: posts.title"; MySQL "Duplicate entry '..' for key 'title'".
    let mut candidates: Vec<String> = Vec::new();
    candidates.extend(info.column_name().map(str::to_owned));
    candidates.extend(info.constraint_name().map(str::to_owned));
    if let Some(rest) = message.split("failed: ").nth(1) {
        candidates.extend(rest.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c).trim().to_owned()));
    }
    if let Some(rest) = message.split("for key '").nth(1) {
        candidates.extend(rest.split('\'').next().map(|k| k.rsplit('.').next().unwrap_or(k).to_owned()));
    }
    if let Some(rest) = message.split("column '").nth(1) {
        candidates.extend(rest.split('\'').next().map(str::to_owned));
    }
    let visible: Vec<&str> = M::FIELDS.iter().filter(|f| !f.hidden).map(|f| f.name).collect();
    let hidden: Vec<&str> = M::FIELDS.iter().filter(|f| f.hidden).map(|f| f.name).collect();
    let mut named: Vec<&str> = Vec::new();
    for c in &candidates {
        for v in &visible {
            if (c == v || c.contains(&format!("_{v}_")) || c.ends_with(&format!("_{v}"))) && !named.contains(v) {
                named.push(v);
            }
        }
    }
    if !named.is_empty() {
        let list: Vec<String> = named.iter().map(|n| format!("`{n}`")).collect();
        return format!("value of {}", list.join(" and "));
    }
    match candidates.first() {
        Some(c) if !hidden.iter().any(|h| c.contains(h)) && !c.contains(' ') => format!("value (constraint `{c}`)"),
        _ => "value".to_owned(),
    }
}
