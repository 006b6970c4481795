//! What the `aggregate` action computes, and `AsDouble`, the one expression node it adds
//! to Diesel's: `CAST(x AS <double>)`, so that sums and averages read back as `f64` on
//! every backend (their own result types differ: integer, `NUMERIC`, `DECIMAL`).

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Double, Nullable};
use serde::Serialize;
use serde_json::Value;

use crate::filter::Filter;
use crate::model::QueryError;

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    /// Rows in the group.
    Count,
    /// Sum of a number field.
    Sum,
    /// Average of a number field.
    Avg,
    /// Smallest value of an ordered field.
    Min,
    /// Largest value of an ordered field.
    Max,
}

impl AggOp {
    /// Its name in metric specs (`sum:views`).
    pub fn name(self) -> &'static str {
        match self {
            AggOp::Count => "count",
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Min => "min",
            AggOp::Max => "max",
        }
    }
}

/// One value to compute per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The function.
    pub op: AggOp,
    /// The field (index in `ModelInfo::FIELDS`); `None` for `count`.
    pub field: Option<usize>,
}

/// An aggregate query, checked against the model's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct AggQuery {
    /// Which rows.
    pub filter: Filter,
    /// The field to group by (index in `ModelInfo::FIELDS`), or one group of every row.
    pub group: Option<usize>,
    /// The metric to compute.
    pub metric: Metric,
    /// Most groups, in the order of the group field.
    pub limit: i64,
}

/// Rows of `(group key, value)` as JSON.
pub fn pairs<K: Serialize, V: Serialize>(rows: Vec<(K, V)>) -> Result<Vec<(Value, Value)>, QueryError> {
    rows.into_iter()
        .map(|(k, v)| {
            Ok((
                serde_json::to_value(k).map_err(|e| QueryError::Filter(crate::filter::FilterError(e.to_string())))?,
                serde_json::to_value(v).map_err(|e| QueryError::Filter(crate::filter::FilterError(e.to_string())))?,
            ))
        })
        .collect()
}

/// `CAST(expr AS <double precision>)`.
#[derive(Debug, Clone, Copy)]
pub struct AsDouble<E>(pub E);

impl<E: Expression> Expression for AsDouble<E> {
    type SqlType = Nullable<Double>;
}

impl<E: QueryId> QueryId for AsDouble<E> {
    type QueryId = AsDouble<E::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = E::HAS_STATIC_QUERY_ID;
}

impl<E: ValidGrouping<G>, G> ValidGrouping<G> for AsDouble<E> {
    type IsAggregate = E::IsAggregate;
}

impl<E, QS> AppearsOnTable<QS> for AsDouble<E> where E: AppearsOnTable<QS> {}

impl<E, QS> SelectableExpression<QS> for AsDouble<E> where E: SelectableExpression<QS> {}

/// How each backend names a double-precision type in `CAST`.
pub trait DoubleName: Backend {
    /// `REAL`, `DOUBLE PRECISION`, `DOUBLE`.
    const DOUBLE: &'static str;
}

#[cfg(feature = "sqlite")]
impl DoubleName for diesel::sqlite::Sqlite {
    const DOUBLE: &'static str = "REAL";
}

#[cfg(feature = "postgres")]
impl DoubleName for diesel::pg::Pg {
    const DOUBLE: &'static str = "DOUBLE PRECISION";
}

#[cfg(feature = "mysql")]
impl DoubleName for diesel::mysql::Mysql {
    const DOUBLE: &'static str = "DOUBLE";
}

impl<E: QueryFragment<DB>, DB: DoubleName> QueryFragment<DB> for AsDouble<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("CAST(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" AS ");
        out.push_sql(DB::DOUBLE);
        out.push_sql(")");
        Ok(())
    }
}
