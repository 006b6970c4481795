//! The hidden templates `#[mcp_toolset]` instantiates for a model, once per enabled
//! backend. Everything they expand to is concrete Diesel code (a column, a backend), so it
//! needs no trait bounds; rustc checks every column/operator pairing.

/// Expands its input when this crate was built with the `sqlite` feature.
#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_sqlite {
    ($($t:tt)*) => { $($t)* };
}

/// Expands its input when this crate was built with the `sqlite` feature.
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_sqlite {
    ($($t:tt)*) => {};
}

/// Expands its input when this crate was built with the `postgres` feature.
#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_postgres {
    ($($t:tt)*) => { $($t)* };
}

/// Expands its input when this crate was built with the `postgres` feature.
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_postgres {
    ($($t:tt)*) => {};
}

/// Expands its input when this crate was built with the `mysql` feature.
#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_mysql {
    ($($t:tt)*) => { $($t)* };
}

/// Expands its input when this crate was built with the `mysql` feature.
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_if_mysql {
    ($($t:tt)*) => {};
}

/// The diesel-async queries of a model (feature `diesel-async`): for PostgreSQL and MySQL,
/// the same template as the sync queries with every query awaited.
#[cfg(feature = "diesel-async")]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_async_query {
    (flavor = sqlite, $($rest:tt)*) => {};
    (flavor = postgres, $($rest:tt)*) => {
        $crate::__mcp_async_block! {
            flavor = postgres, conn = $crate::__private::diesel_async::AsyncPgConnection, $($rest)*
        }
    };
    (flavor = mysql, $($rest:tt)*) => {
        $crate::__mcp_async_block! {
            flavor = mysql, conn = $crate::__private::diesel_async::AsyncMysqlConnection, $($rest)*
        }
    };
}

/// The diesel-async queries of a model (feature `diesel-async`, off: none).
#[cfg(not(feature = "diesel-async"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_async_query {
    ($($t:tt)*) => {};
}

/// The `AsyncModelQuery` impl of a model for one diesel-async connection type.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_async_block {
    (
        flavor = $flavor:ident,
        conn = $conn:ty,
        backend = $db:ty,
        model = $model:ty,
        table = $table:path,
        pk = $pk:path : $pkty:ty,
        fields = [ $( $idx:literal : $col:path : $kind:ident : $null:ident : $ty:ty ),* $(,)? ],
        writes = $writes:tt,
        aggregate = $aggregate:tt,
        relations = $relations:tt $(,)?
    ) => {
        const _: () = {
            #[allow(unused_imports)]
            use $crate::__private::diesel::prelude::*;
            // Shadows diesel's `RunQueryDsl` of the prelude: every query here is awaited.
            #[allow(unused_imports)]
            use $crate::__private::diesel_async::{AsyncConnection, RunQueryDsl};
            #[allow(unused_imports)]
            use $crate::__private::diesel::{BoxableExpression, IntoSql};
            use $crate::__private::diesel::sql_types::Bool;
            use $crate::filter::{Filter, FilterError};

            type Boxed = ::std::boxed::Box<dyn BoxableExpression<$table, $db, SqlType = Bool>>;

            /// The filter compiler of the sync queries of the same backend.
            fn compile(f: &Filter) -> ::core::result::Result<::core::option::Option<Boxed>, FilterError> {
                <$model as $crate::ModelFilter<$db>>::predicate(f)
            }

            $crate::__mcp_query_impl! {
                exec = awaited, qtrait = AsyncModelQuery, flavor = $flavor, conn = $conn, backend = $db,
                model = $model, table = $table, pk = $pk : $pkty, fields = [ $( $idx : $col : $kind : $null : $ty ),* ],
                writes = $writes, aggregate = $aggregate, relations = $relations,
            }
        };
    };
}

/// The column expression for comparisons: nullable columns are compared through
/// `assume_not_null()` (NULL never matches a comparison anyway).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_col {
    (notnull, $col:path) => {
        $col
    };
    (null, $col:path) => {
        $col.assume_not_null()
    };
}

/// `<>`, NULL-safe for nullable columns: null rows are "not equal" to any value. `$cmp` is
/// the comparison on the non-null column.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_ne {
    (notnull, $col:path, $cmp:expr) => {
        ::std::boxed::Box::new($cmp)
    };
    (null, $col:path, $cmp:expr) => {
        ::std::boxed::Box::new($col.is_null().or($cmp))
    };
}

/// A text column for exact comparisons: on MySQL compared as bytes (`BINARY`), so that
/// `eq` and `contains` are case-sensitive there too, as on SQLite and PostgreSQL.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_tcol {
    (mysql, $null:ident, $col:path) => {
        $crate::__private::binary($crate::__mcp_col!($null, $col))
    };
    ($flavor:ident, $null:ident, $col:path) => {
        $crate::__mcp_col!($null, $col)
    };
}

/// `IS NULL` / `IS NOT NULL` (only nullable columns get there).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_isnull {
    (notnull, $col:path, $c:ident) => {
        return ::core::result::Result::Err($crate::filter::FilterError(::std::format!(
            "operator `isnull` does not apply: the field is never null"
        )))
    };
    (null, $col:path, $c:ident) => {
        if $c.value.as_bool() == ::core::option::Option::Some(false) {
            ::std::boxed::Box::new($col.is_not_null())
        } else {
            ::std::boxed::Box::new($col.is_null())
        }
    };
}

/// One condition on one column, by kind (`text`, `ordered`, `bool`, `eq`).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_leaf {
    (text, $flavor:ident, $null:ident, $col:path, $ty:ty, $c:ident, $fields:expr) => {{
        use $crate::filter::Op;
        let v = &$c.value;
        match $c.op {
            Op::Eq => ::std::boxed::Box::new(
                $crate::__mcp_tcol!($flavor, $null, $col).eq($crate::decode::<$ty>(v, $c, $fields)?),
            ),
            Op::Ne => $crate::__mcp_ne!(
                $null,
                $col,
                $crate::__mcp_tcol!($flavor, $null, $col).ne($crate::decode::<$ty>(v, $c, $fields)?)
            ),
            Op::In => {
                ::std::boxed::Box::new(
                    $crate::__mcp_tcol!($flavor, $null, $col).eq_any($crate::decode_list::<$ty>(v, $c, $fields)?),
                )
            }
            Op::NotIn => ::std::boxed::Box::new(
                $crate::__mcp_tcol!($flavor, $null, $col).ne_all($crate::decode_list::<$ty>(v, $c, $fields)?),
            ),
            Op::Contains | Op::StartsWith | Op::EndsWith => ::std::boxed::Box::new(
                $crate::__mcp_tcol!($flavor, $null, $col)
                    .like($crate::like_pattern(v, $c))
                    .escape($crate::filter::LIKE_ESCAPE),
            ),
            Op::IContains => ::std::boxed::Box::new(
                $crate::__private::lower($crate::__mcp_col!($null, $col))
                    .like($crate::__private::lower($crate::like_pattern(v, $c)))
                    .escape($crate::filter::LIKE_ESCAPE),
            ),
            // Not offered to agents: keyset pagination compares text in the column's own
            // collation, the one `ORDER BY` uses.
            Op::Gt => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).gt($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Gte => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).ge($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Lt => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).lt($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Lte => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).le($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Regex => $crate::__mcp_regex!($flavor, $null, $col, v),
            Op::IsNull => $crate::__mcp_isnull!($null, $col, $c),
            other => return ::core::result::Result::Err($crate::__private::unsupported(other)),
        }
    }};
    (ordered, $flavor:ident, $null:ident, $col:path, $ty:ty, $c:ident, $fields:expr) => {{
        use $crate::filter::Op;
        let v = &$c.value;
        match $c.op {
            Op::Eq => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).eq($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Ne => $crate::__mcp_ne!(
                $null,
                $col,
                $crate::__mcp_col!($null, $col).ne($crate::decode::<$ty>(v, $c, $fields)?)
            ),
            Op::Gt => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).gt($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Gte => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).ge($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Lt => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).lt($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Lte => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).le($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::In => ::std::boxed::Box::new(
                $crate::__mcp_col!($null, $col).eq_any($crate::decode_list::<$ty>(v, $c, $fields)?),
            ),
            Op::NotIn => ::std::boxed::Box::new(
                $crate::__mcp_col!($null, $col).ne_all($crate::decode_list::<$ty>(v, $c, $fields)?),
            ),
            Op::Between => {
                let mut pair = $crate::decode_list::<$ty>(v, $c, $fields)?.into_iter();
                match (pair.next(), pair.next()) {
                    (::core::option::Option::Some(lo), ::core::option::Option::Some(hi)) => {
                        ::std::boxed::Box::new($crate::__mcp_col!($null, $col).between(lo, hi))
                    }
                    _ => return ::core::result::Result::Err($crate::__private::unsupported(Op::Between)),
                }
            }
            Op::IsNull => $crate::__mcp_isnull!($null, $col, $c),
            other => return ::core::result::Result::Err($crate::__private::unsupported(other)),
        }
    }};
    (bool, $flavor:ident, $null:ident, $col:path, $ty:ty, $c:ident, $fields:expr) => {{
        use $crate::filter::Op;
        let v = &$c.value;
        match $c.op {
            Op::Eq => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).eq($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Ne => $crate::__mcp_ne!(
                $null,
                $col,
                $crate::__mcp_col!($null, $col).ne($crate::decode::<$ty>(v, $c, $fields)?)
            ),
            Op::IsNull => $crate::__mcp_isnull!($null, $col, $c),
            other => return ::core::result::Result::Err($crate::__private::unsupported(other)),
        }
    }};
    (eq, $flavor:ident, $null:ident, $col:path, $ty:ty, $c:ident, $fields:expr) => {{
        use $crate::filter::Op;
        let v = &$c.value;
        match $c.op {
            Op::Eq => {
                ::std::boxed::Box::new($crate::__mcp_col!($null, $col).eq($crate::decode::<$ty>(v, $c, $fields)?))
            }
            Op::Ne => $crate::__mcp_ne!(
                $null,
                $col,
                $crate::__mcp_col!($null, $col).ne($crate::decode::<$ty>(v, $c, $fields)?)
            ),
            Op::In => ::std::boxed::Box::new(
                $crate::__mcp_col!($null, $col).eq_any($crate::decode_list::<$ty>(v, $c, $fields)?),
            ),
            Op::NotIn => ::std::boxed::Box::new(
                $crate::__mcp_col!($null, $col).ne_all($crate::decode_list::<$ty>(v, $c, $fields)?),
            ),
            Op::IsNull => $crate::__mcp_isnull!($null, $col, $c),
            other => return ::core::result::Result::Err($crate::__private::unsupported(other)),
        }
    }};
}

/// The queries of one model for one connection type.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_model_query {
    (
        flavor = $flavor:ident,
        conn = $conn:ty,
        backend = $db:ty,
        model = $model:ty,
        table = $table:path,
        pk = $pk:path : $pkty:ty,
        fields = [ $( $idx:literal : $col:path : $kind:ident : $null:ident : $ty:ty ),* $(,)? ],
        writes = $writes:tt,
        aggregate = $aggregate:tt,
        relations = $relations:tt $(,)?
    ) => {
        const _: () = {
            #[allow(unused_imports)]
            use $crate::__private::diesel::prelude::*;
            use $crate::__private::diesel::{BoxableExpression, IntoSql};
            use $crate::__private::diesel::sql_types::Bool;
            use $crate::filter::{Condition, Filter, FilterError};

            type Boxed = ::std::boxed::Box<dyn BoxableExpression<$table, $db, SqlType = Bool>>;

            fn leaf(c: &Condition) -> ::core::result::Result<Boxed, FilterError> {
                let fields = <$model as $crate::ModelInfo>::FIELDS;
                ::core::result::Result::Ok(match c.field {
                    $( $idx => $crate::__mcp_leaf!($kind, $flavor, $null, $col, $ty, c, fields), )*
                    other => return ::core::result::Result::Err(FilterError(::std::format!("no field #{other}"))),
                })
            }

            /// `None` stands for "always true".
            fn compile(f: &Filter) -> ::core::result::Result<::core::option::Option<Boxed>, FilterError> {
                ::core::result::Result::Ok(match f {
                    Filter::Leaf(c) => ::core::option::Option::Some(leaf(c)?),
                    Filter::And(parts) => {
                        let mut acc: ::core::option::Option<Boxed> = ::core::option::Option::None;
                        for p in parts {
                            if let ::core::option::Option::Some(e) = compile(p)? {
                                acc = ::core::option::Option::Some(match acc {
                                    ::core::option::Option::None => e,
                                    ::core::option::Option::Some(a) => ::std::boxed::Box::new(a.and(e)),
                                });
                            }
                        }
                        acc
                    }
                    Filter::Or(parts) => {
                        let mut acc: ::core::option::Option<Boxed> = ::core::option::Option::None;
                        for p in parts {
                            match compile(p)? {
                                ::core::option::Option::None => return ::core::result::Result::Ok(::core::option::Option::None),
                                ::core::option::Option::Some(e) => {
                                    acc = ::core::option::Option::Some(match acc {
                                        ::core::option::Option::None => e,
                                        ::core::option::Option::Some(a) => ::std::boxed::Box::new(a.or(e)),
                                    });
                                }
                            }
                        }
                        ::core::option::Option::Some(acc.unwrap_or_else(|| ::std::boxed::Box::new(false.into_sql::<Bool>())))
                    }
                    Filter::Not(inner) => ::core::option::Option::Some(match compile(inner)? {
                        ::core::option::Option::None => ::std::boxed::Box::new(false.into_sql::<Bool>()),
                        ::core::option::Option::Some(e) => ::std::boxed::Box::new($crate::__private::diesel::dsl::not(e)),
                    }),
                    Filter::Related { relation, filter } => ::core::option::Option::Some(related(*relation, filter)?),
                })
            }

            $crate::__mcp_related_fn! { db = $db, relations = $relations }

            impl $crate::ModelFilter<$db> for $model {
                type Table = $table;
                type KeyColumn = $pk;

                fn table() -> Self::Table {
                    $table
                }

                fn key_column() -> Self::KeyColumn {
                    $pk
                }

                fn predicate(f: &Filter) -> ::core::result::Result<::core::option::Option<Boxed>, FilterError> {
                    compile(f)
                }
            }

            $crate::__mcp_query_impl! {
                exec = sync, qtrait = ModelQuery, flavor = $flavor, conn = $conn, backend = $db, model = $model,
                table = $table, pk = $pk : $pkty, fields = [ $( $idx : $col : $kind : $null : $ty ),* ],
                writes = $writes, aggregate = $aggregate, relations = $relations,
            }
        };

        $crate::__mcp_async_query! {
            flavor = $flavor, backend = $db, model = $model,
            table = $table, pk = $pk : $pkty, fields = [ $( $idx : $col : $kind : $null : $ty ),* ],
            writes = $writes, aggregate = $aggregate, relations = $relations,
        }
    };
}

/// The `ModelQuery` (`exec = sync`) or `AsyncModelQuery` (`exec = awaited`) impl of one
/// model for one connection type; `compile` and `Boxed` come from the enclosing block.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_query_impl {
    (
        exec = $exec:ident,
        qtrait = $qtrait:ident,
        flavor = $flavor:ident,
        conn = $conn:ty,
        backend = $db:ty,
        model = $model:ty,
        table = $table:path,
        pk = $pk:path : $pkty:ty,
        fields = [ $( $idx:literal : $col:path : $kind:ident : $null:ident : $ty:ty ),* $(,)? ],
        writes = $writes:tt,
        aggregate = $aggregate:tt,
        relations = $relations:tt $(,)?
    ) => {
        impl $crate::$qtrait<$conn> for $model {
            const REGEX: bool = $crate::__mcp_has_regex!($flavor);

            $crate::__mcp_fn! { $exec,
            fn list(
                conn: &mut $conn,
                q: &$crate::ListQuery,
                scope: &Filter,
            ) -> ::core::result::Result<::std::vec::Vec<Self>, $crate::QueryError> {
                let mut query = $table.into_boxed::<$db>();
                if let ::core::option::Option::Some(e) = compile(scope)? {
                    query = query.filter(e);
                }
                if let ::core::option::Option::Some(e) = compile(&q.filter)? {
                    query = query.filter(e);
                }
                for &(field, desc) in &q.order {
                    query = match (field, desc) {
                        $(
                            ($idx, false) => query.then_order_by($col.asc()),
                            ($idx, true) => query.then_order_by($col.desc()),
                        )*
                        _ => query,
                    };
                }
                ::core::result::Result::Ok(
                    $crate::__mcp_run!($exec, load, [$model], query.select(<$model>::as_select()).limit(q.limit).offset(q.offset), conn)?,
                )
            }
            }

            $crate::__mcp_fn! { $exec,
            fn count(
                conn: &mut $conn,
                filter: &Filter,
                scope: &Filter,
            ) -> ::core::result::Result<i64, $crate::QueryError> {
                let mut query = $table.into_boxed::<$db>();
                if let ::core::option::Option::Some(e) = compile(scope)? {
                    query = query.filter(e);
                }
                if let ::core::option::Option::Some(e) = compile(filter)? {
                    query = query.filter(e);
                }
                ::core::result::Result::Ok($crate::__mcp_run!($exec, get_result, [i64], query.count(), conn)?)
            }
            }

            $crate::__mcp_fn! { $exec,
            fn get(
                conn: &mut $conn,
                key: &$crate::__private::serde_json::Value,
                scope: &Filter,
            ) -> ::core::result::Result<::core::option::Option<Self>, $crate::QueryError> {
                let key: $pkty = $crate::__private::decode_key::<$pkty>(key)?;
                let mut query = $table.into_boxed::<$db>().filter($pk.eq(key));
                if let ::core::option::Option::Some(e) = compile(scope)? {
                    query = query.filter(e);
                }
                ::core::result::Result::Ok($crate::__mcp_run!($exec, first, [$model], query.select(<$model>::as_select()), conn).optional()?)
            }
            }

            $crate::__mcp_write_fns! {
                exec = $exec, qtrait = $qtrait, flavor = $flavor, conn = $conn, backend = $db, model = $model, table = $table,
                pk = $pk : $pkty, writes = $writes
            }

            $crate::__mcp_aggregate_fn! {
                exec = $exec, conn = $conn, table = $table, aggregate = $aggregate
            }

            $crate::__mcp_include_fn! {
                exec = $exec, conn = $conn, db = $db, relations = $relations
            }
        }
    };
}

/// A function of a query impl: as written (`sync`) or `async` (`awaited`).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_fn {
    (sync, $($item:tt)*) => { $($item)* };
    (awaited, $($item:tt)*) => { async $($item)* };
}

/// `RunQueryDsl::$method(receiver, conn)`: diesel's (`sync`) or diesel-async's, awaited
/// (`awaited`). Called fully qualified: user code often has both traits in scope.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_run {
    (sync, $method:ident, [$($t:ty)?], $recv:expr, $conn:expr) => {
        $crate::__private::diesel::RunQueryDsl::$method $(::<$t>)? ($recv, $conn)
    };
    (awaited, $method:ident, [$($t:ty)?], $recv:expr, $conn:expr) => {
        $crate::__private::diesel_async::RunQueryDsl::$method $(::<$t>)? ($recv, $conn).await
    };
}

/// A future's result (`awaited`), or a value as it is (`sync`).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_await {
    (sync, $e:expr) => {
        $e
    };
    (awaited, $e:expr) => {
        $e.await
    };
}

/// `body` in a transaction on `conn` (rebound to the transaction's connection).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_transaction {
    (sync, $conn:ident, $body:block) => {
        $conn.transaction(|$conn| $body)
    };
    (awaited, $conn:ident, $body:block) => {
        $conn.transaction(async move |$conn| $body).await
    };
}

/// `related`: a condition on the rows a relation reaches, as a sub-select
/// (`ours IN (SELECT theirs FROM related WHERE ...)`), the related model's scope already
/// in its filter.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_related_fn {
    (
        db = $db:ty,
        relations = [ $(
            $ridx:literal : $rshape:ident ( $rmodel:ty, ours = $ofield:ident : $ocol:path : $onull:ident : $oty:ty, theirs = $theirs:expr )
        ),* $(,)? ]
    ) => {
        #[allow(unused_variables)]
        fn related(relation: usize, f: &$crate::filter::Filter) -> ::core::result::Result<Boxed, $crate::filter::FilterError> {
            match relation {
                $(
                    $ridx => {
                        // No NULLs on either side, so that the condition is true or false, never
                        // NULL (`$not` of it must hold for the other rows).
                        let sub = <$rmodel as $crate::ModelFilter<$db>>::table()
                            .select(($theirs).nullable())
                            .into_boxed::<$db>()
                            .filter(($theirs).is_not_null());
                        let sub = match <$rmodel as $crate::ModelFilter<$db>>::predicate(f)? {
                            ::core::option::Option::Some(p) => sub.filter(p),
                            ::core::option::Option::None => sub,
                        };
                        ::core::result::Result::Ok($crate::__mcp_in_sub!($onull, $ocol, sub))
                    }
                )*
                other => ::core::result::Result::Err($crate::filter::FilterError(::std::format!("no relation #{other}"))),
            }
        }
    };
}

/// `ours IN (sub-select)` as a two-valued condition: false, not NULL, when `ours` is NULL.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_in_sub {
    (notnull, $ocol:path, $sub:ident) => {
        ::std::boxed::Box::new($ocol.nullable().eq_any($sub).assume_not_null())
    };
    (null, $ocol:path, $sub:ident) => {
        ::std::boxed::Box::new($ocol.is_not_null().and($ocol.eq_any($sub).assume_not_null()))
    };
}

/// `Some(value)` of a field, `Option` or not.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_some {
    (notnull, $e:expr) => {
        ::core::option::Option::Some($e)
    };
    (null, $e:expr) => {
        $e
    };
}

/// `include` of `ModelQuery`, when the model declares relations: one query per relation
/// for all the rows of a page.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_include_fn {
    (exec = $exec:ident, conn = $conn:ty, db = $db:ty, relations = []) => {};
    (
        exec = $exec:ident, conn = $conn:ty, db = $db:ty,
        relations = [ $(
            $ridx:literal : $rshape:ident ( $rmodel:ty, ours = $ofield:ident : $ocol:path : $onull:ident : $oty:ty, theirs = $theirs:expr )
        ),* $(,)? ]
    ) => {
        $crate::__mcp_fn! { $exec,
        fn include(
            conn: &mut $conn,
            rows: &[Self],
            relation: usize,
            scope: &Filter,
        ) -> ::core::result::Result<::std::vec::Vec<$crate::__private::serde_json::Value>, $crate::QueryError> {
            use $crate::__private::serde_json::Value;
            match relation {
                $(
                    $ridx => {
                        // The join values of the page, as JSON text for matching.
                        let mut keys: ::std::vec::Vec<$oty> = ::std::vec::Vec::new();
                        let mut row_keys: ::std::vec::Vec<::core::option::Option<::std::string::String>> =
                            ::std::vec::Vec::with_capacity(rows.len());
                        for r in rows {
                            match $crate::__mcp_some!($onull, ::core::clone::Clone::clone(&r.$ofield)) {
                                ::core::option::Option::Some(k) => {
                                    row_keys.push(::core::option::Option::Some($crate::__private::key_json(&k)?.to_string()));
                                    keys.push(k);
                                }
                                ::core::option::Option::None => row_keys.push(::core::option::Option::None),
                            }
                        }
                        if keys.is_empty() {
                            return ::core::result::Result::Ok(
                                row_keys.iter().map(|_| $crate::__mcp_empty!($rshape)).collect(),
                            );
                        }
                        let keys: ::std::vec::Vec<::core::option::Option<$oty>> =
                            keys.into_iter().map(::core::option::Option::Some).collect();
                        let mut q = <$rmodel as $crate::ModelFilter<$db>>::table()
                            .into_boxed::<$db>()
                            .filter(($theirs).nullable().eq_any(keys));
                        if let ::core::option::Option::Some(p) = <$rmodel as $crate::ModelFilter<$db>>::predicate(scope)? {
                            q = q.filter(p);
                        }
                        let found = $crate::__mcp_run!($exec, load, [(::core::option::Option<$oty>, $rmodel)], q
                            .order_by(<$rmodel as $crate::ModelFilter<$db>>::key_column().asc())
                            .limit($crate::__private::MAX_INCLUDED + 1)
                            .select((($theirs).nullable(), <$rmodel>::as_select()))
                            , conn)?;
                        $crate::__mcp_attach!($rshape, $rmodel, found, row_keys)
                    }
                )*
                _ => ::core::result::Result::Err($crate::QueryError::Unsupported("include")),
            }
        }
        }
    };
}

/// What a row with no join value gets: `null` or `[]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_empty {
    (belongs_to) => {
        $crate::__private::serde_json::Value::Null
    };
    (has_many) => {
        $crate::__private::serde_json::Value::Array(::std::vec::Vec::new())
    };
}

/// The related rows found, attached to the rows of the page by join value.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_attach {
    (belongs_to, $rmodel:ty, $found:ident, $row_keys:ident) => {{
        let mut by_key: ::std::collections::HashMap<::std::string::String, Value> = ::std::collections::HashMap::new();
        for (k, row) in &$found {
            if let ::core::option::Option::Some(k) = k {
                by_key.insert($crate::__private::key_json(k)?.to_string(), $crate::__private::related_json(row)?);
            }
        }
        ::core::result::Result::Ok(
            $row_keys
                .iter()
                .map(|k| k.as_ref().and_then(|k| by_key.get(k).cloned()).unwrap_or(Value::Null))
                .collect(),
        )
    }};
    (has_many, $rmodel:ty, $found:ident, $row_keys:ident) => {{
        if $found.len() as i64 > $crate::__private::MAX_INCLUDED {
            return ::core::result::Result::Err($crate::QueryError::Filter($crate::filter::FilterError(::std::format!(
                "the rows of this page have more than {} related {} rows; ask for fewer rows (`limit`) or list {} with a filter",
                $crate::__private::MAX_INCLUDED,
                <$rmodel as $crate::ModelInfo>::NAME,
                <$rmodel as $crate::ModelInfo>::NAME,
            ))));
        }
        // As `Relation::most` says.
        let most = <$rmodel as $crate::ModelInfo>::MAX_LIMIT as usize;
        let mut by_key: ::std::collections::HashMap<::std::string::String, ::std::vec::Vec<Value>> =
            ::std::collections::HashMap::new();
        for (k, row) in &$found {
            if let ::core::option::Option::Some(k) = k {
                let list = by_key.entry($crate::__private::key_json(k)?.to_string()).or_default();
                if list.len() < most {
                    list.push($crate::__private::related_json(row)?);
                }
            }
        }
        ::core::result::Result::Ok(
            $row_keys
                .iter()
                .map(|k| Value::Array(k.as_ref().and_then(|k| by_key.get(k).cloned()).unwrap_or_default()))
                .collect(),
        )
    }};
}

/// The value of one field being written, as an optional `column = value` (absent: left
/// out; `null`: NULL for nullable columns, an error otherwise).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_value {
    (notnull, $col:path, $ty:ty, $values:ident, $field:expr) => {
        match $values.get($field.name) {
            ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None),
            ::core::option::Option::Some($crate::__private::serde_json::Value::Null) => ::core::result::Result::Err(
                $crate::filter::FilterError(::std::format!("`{}` cannot be null", $field.name)),
            ),
            ::core::option::Option::Some(v) => {
                $crate::decode_write::<$ty>(v, $field).map(|x| ::core::option::Option::Some($col.eq(x)))
            }
        }
    };
    (null, $col:path, $ty:ty, $values:ident, $field:expr) => {
        match $values.get($field.name) {
            ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None),
            ::core::option::Option::Some($crate::__private::serde_json::Value::Null) => {
                ::core::result::Result::Ok(::core::option::Option::Some($col.eq(::core::option::Option::None::<$ty>)))
            }
            ::core::option::Option::Some(v) => $crate::decode_write::<$ty>(v, $field)
                .map(|x| ::core::option::Option::Some($col.eq(::core::option::Option::Some(x)))),
        }
    };
}

/// Insert `row` and give the new row's key as JSON.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_insert {
    (mysql, $exec:ident, $conn:ident, $table:path, $pk:path, $pkty:ty, $row:ident, $values:ident, $pkname:expr) => {{
        $crate::__mcp_run!($exec, execute, [], $crate::__private::diesel::insert_into($table).values($row), $conn)?;
        match $values.get($pkname) {
            ::core::option::Option::Some(v) => v.clone(),
            ::core::option::Option::None => $crate::__private::serde_json::Value::from($crate::__mcp_run!(
                $exec,
                get_result,
                [u64],
                $crate::__private::diesel::select($crate::__private::last_insert_id()),
                $conn
            )?),
        }
    }};
    ($flavor:ident, $exec:ident, $conn:ident, $table:path, $pk:path, $pkty:ty, $row:ident, $values:ident, $pkname:expr) => {{
        let key: $pkty = $crate::__mcp_run!(
            $exec,
            get_result,
            [$pkty],
            $crate::__private::diesel::insert_into($table).values($row).returning($pk),
            $conn
        )?;
        $crate::__private::key_json(&key)?
    }};
}

/// `create`, `update` and `delete` of `ModelQuery`, when the model has write actions.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_write_fns {
    (
        exec = $exec:ident, qtrait = $qtrait:ident, flavor = $flavor:ident, conn = $conn:ty, backend = $db:ty,
        model = $model:ty, table = $table:path, pk = $pk:path : $pkty:ty, writes = none
    ) => {};
    (
        exec = $exec:ident, qtrait = $qtrait:ident, flavor = $flavor:ident, conn = $conn:ty, backend = $db:ty,
        model = $model:ty, table = $table:path, pk = $pk:path : $pkty:ty,
        writes = [ $( [ $( $idx:literal : $col:path : $null:ident : $ty:ty ),* $(,)? ] ),* $(,)? ]
    ) => {
        $crate::__mcp_fn! { $exec,
        fn create(
            conn: &mut $conn,
            values: &$crate::__private::serde_json::Map<::std::string::String, $crate::__private::serde_json::Value>,
            scope: &Filter,
        ) -> ::core::result::Result<Self, $crate::QueryError> {
            let fields = <$model as $crate::ModelInfo>::FIELDS;
            let pk_name = fields[<$model as $crate::ModelInfo>::PRIMARY_KEY].name;
            let row = ( $( ( $( $crate::__mcp_value!($null, $col, $ty, values, &fields[$idx])?, )* ), )* );
            $crate::__mcp_transaction!($exec, conn, {
                let key = $crate::__mcp_insert!($flavor, $exec, conn, $table, $pk, $pkty, row, values, pk_name);
                match $crate::__mcp_await!($exec, <$model as $crate::$qtrait<$conn>>::get(conn, &key, scope))? {
                    ::core::option::Option::Some(r) => ::core::result::Result::Ok(r),
                    ::core::option::Option::None => ::core::result::Result::Err($crate::QueryError::OutsideScope),
                }
            })
        }
        }

        $crate::__mcp_fn! { $exec,
        fn update(
            conn: &mut $conn,
            key: &$crate::__private::serde_json::Value,
            values: &$crate::__private::serde_json::Map<::std::string::String, $crate::__private::serde_json::Value>,
            scope: &Filter,
        ) -> ::core::result::Result<::core::option::Option<Self>, $crate::QueryError> {
            let fields = <$model as $crate::ModelInfo>::FIELDS;
            let k: $pkty = $crate::__private::decode_key::<$pkty>(key)?;
            let changes = ( $( ( $( $crate::__mcp_value!($null, $col, $ty, values, &fields[$idx])?, )* ), )* );
            let scope_expr = compile(scope)?;
            $crate::__mcp_transaction!($exec, conn, {
                let q = $crate::__private::diesel::update($table).set(changes).into_boxed::<$db>().filter($pk.eq(k));
                let n = match scope_expr {
                    ::core::option::Option::Some(e) => $crate::__mcp_run!($exec, execute, [], q.filter(e), conn)?,
                    ::core::option::Option::None => $crate::__mcp_run!($exec, execute, [], q, conn)?,
                };
                if n == 0 {
                    return ::core::result::Result::Ok(::core::option::Option::None);
                }
                match $crate::__mcp_await!($exec, <$model as $crate::$qtrait<$conn>>::get(conn, key, scope))? {
                    ::core::option::Option::Some(r) => ::core::result::Result::Ok(::core::option::Option::Some(r)),
                    ::core::option::Option::None => ::core::result::Result::Err($crate::QueryError::OutsideScope),
                }
            })
        }
        }

        $crate::__mcp_fn! { $exec,
        fn delete(
            conn: &mut $conn,
            key: &$crate::__private::serde_json::Value,
            scope: &Filter,
        ) -> ::core::result::Result<bool, $crate::QueryError> {
            let k: $pkty = $crate::__private::decode_key::<$pkty>(key)?;
            let q = $crate::__private::diesel::delete($table).into_boxed::<$db>().filter($pk.eq(k));
            let n = match compile(scope)? {
                ::core::option::Option::Some(e) => $crate::__mcp_run!($exec, execute, [], q.filter(e), conn)?,
                ::core::option::Option::None => $crate::__mcp_run!($exec, execute, [], q, conn)?,
            };
            ::core::result::Result::Ok(n > 0)
        }
        }
    };
}

/// `T` or `Option<T>`, as a nullable column loads.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_opt_ty {
    (notnull, $ty:ty) => { $ty };
    (null, $ty:ty) => { ::core::option::Option<$ty> };
}

/// `aggregate` of `ModelQuery`, when the model has the action.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_aggregate_fn {
    (exec = $exec:ident, conn = $conn:ty, table = $table:path, aggregate = none) => {};
    (
        exec = $exec:ident, conn = $conn:ty, table = $table:path,
        aggregate = {
            groups = [ $( $gidx:literal : $gcol:path : $gnull:ident : $gty:ty ),* $(,)? ],
            sums = $sums:tt,
            ords = $ords:tt $(,)?
        }
    ) => {
        $crate::__mcp_fn! { $exec,
        fn aggregate(
            conn: &mut $conn,
            q: &$crate::aggregate::AggQuery,
            scope: &Filter,
        ) -> ::core::result::Result<
            ::std::vec::Vec<($crate::__private::serde_json::Value, $crate::__private::serde_json::Value)>,
            $crate::QueryError,
        > {
            // One predicate: the scope AND the agent's filter.
            let pred: Boxed = match (compile(scope)?, compile(&q.filter)?) {
                (::core::option::Option::Some(a), ::core::option::Option::Some(b)) => ::std::boxed::Box::new(a.and(b)),
                (::core::option::Option::Some(a), ::core::option::Option::None)
                | (::core::option::Option::None, ::core::option::Option::Some(a)) => a,
                (::core::option::Option::None, ::core::option::Option::None) => {
                    ::std::boxed::Box::new(true.into_sql::<Bool>())
                }
            };
            match q.group {
                ::core::option::Option::None => {
                    $crate::__mcp_agg_total!(exec = $exec, table = $table, conn = conn, pred = pred, q = q, sums = $sums, ords = $ords)
                }
                $(
                    ::core::option::Option::Some($gidx) => $crate::__mcp_agg_grouped!(
                        exec = $exec, table = $table, conn = conn, pred = pred, q = q, gcol = $gcol,
                        key = $crate::__mcp_opt_ty!($gnull, $gty), sums = $sums, ords = $ords
                    ),
                )*
                ::core::option::Option::Some(_) => {
                    ::core::result::Result::Err($crate::QueryError::Unsupported("grouping by this field"))
                }
            }
        }
        }
    };
}

/// One metric over every row in the scope and filter.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_agg_total {
    (
        exec = $exec:ident, table = $table:path, conn = $conn:ident, pred = $pred:ident, q = $q:ident,
        sums = [ $( $sidx:literal : $scol:path ),* $(,)? ],
        ords = [ $( $oidx:literal : $ocol:path : $onull:ident : $oty:ty ),* $(,)? ]
    ) => {{
        use $crate::__private::diesel::dsl::{avg, count_star, max, min, sum};
        use $crate::aggregate::{AggOp, AsDouble, pairs};
        let total = |v| pairs(::std::vec![((), v)]);
        match ($q.metric.op, $q.metric.field) {
            (AggOp::Count, _) => total($crate::__private::serde_json::Value::from(
                $crate::__mcp_run!($exec, get_result, [i64], $table.filter($pred).select(count_star()), $conn)?,
            )),
            $(
                (AggOp::Sum, ::core::option::Option::Some($sidx)) => total($crate::__private::serde_json::Value::from(
                    $crate::__mcp_run!($exec, get_result, [::core::option::Option<f64>], $table.filter($pred).select(AsDouble(sum($scol))), $conn)?,
                )),
                (AggOp::Avg, ::core::option::Option::Some($sidx)) => total($crate::__private::serde_json::Value::from(
                    $crate::__mcp_run!($exec, get_result, [::core::option::Option<f64>], $table.filter($pred).select(AsDouble(avg($scol))), $conn)?,
                )),
            )*
            $(
                (AggOp::Min, ::core::option::Option::Some($oidx)) => pairs(::std::vec![(
                    (),
                    $crate::__mcp_run!($exec, get_result, [::core::option::Option<$oty>], $table.filter($pred).select(min($ocol)), $conn)?,
                )]),
                (AggOp::Max, ::core::option::Option::Some($oidx)) => pairs(::std::vec![(
                    (),
                    $crate::__mcp_run!($exec, get_result, [::core::option::Option<$oty>], $table.filter($pred).select(max($ocol)), $conn)?,
                )]),
            )*
            _ => ::core::result::Result::Err($crate::QueryError::Unsupported("this aggregate")),
        }
    }};
}

/// One metric per value of the group column, in the column's order.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_agg_grouped {
    (
        exec = $exec:ident, table = $table:path, conn = $conn:ident, pred = $pred:ident, q = $q:ident, gcol = $gcol:path, key = $key:ty,
        sums = [ $( $sidx:literal : $scol:path ),* $(,)? ],
        ords = [ $( $oidx:literal : $ocol:path : $onull:ident : $oty:ty ),* $(,)? ]
    ) => {{
        use $crate::__private::diesel::dsl::{avg, count_star, max, min, sum};
        use $crate::aggregate::{AggOp, AsDouble, pairs};
        let base = $table.filter($pred).group_by($gcol);
        match ($q.metric.op, $q.metric.field) {
            (AggOp::Count, _) => pairs(
                $crate::__mcp_run!($exec, load, [($key, i64)], base.select(($gcol, count_star())).order_by($gcol).limit($q.limit), $conn)?,
            ),
            $(
                (AggOp::Sum, ::core::option::Option::Some($sidx)) => pairs(
                    $crate::__mcp_run!($exec, load, [($key, ::core::option::Option<f64>)], base.select(($gcol, AsDouble(sum($scol))))
                        .order_by($gcol)
                        .limit($q.limit)
                        , $conn)?,
                ),
                (AggOp::Avg, ::core::option::Option::Some($sidx)) => pairs(
                    $crate::__mcp_run!($exec, load, [($key, ::core::option::Option<f64>)], base.select(($gcol, AsDouble(avg($scol))))
                        .order_by($gcol)
                        .limit($q.limit)
                        , $conn)?,
                ),
            )*
            $(
                (AggOp::Min, ::core::option::Option::Some($oidx)) => pairs(
                    $crate::__mcp_run!($exec, load, [($key, ::core::option::Option<$oty>)], base.select(($gcol, min($ocol)))
                        .order_by($gcol)
                        .limit($q.limit)
                        , $conn)?,
                ),
                (AggOp::Max, ::core::option::Option::Some($oidx)) => pairs(
                    $crate::__mcp_run!($exec, load, [($key, ::core::option::Option<$oty>)], base.select(($gcol, max($ocol)))
                        .order_by($gcol)
                        .limit($q.limit)
                        , $conn)?,
                ),
            )*
            _ => ::core::result::Result::Err($crate::QueryError::Unsupported("this aggregate")),
        }
    }};
}

/// Whether a backend has regular expressions.
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_has_regex {
    (sqlite) => {
        false
    };
    ($flavor:ident) => {
        true
    };
}

/// `$regex` on a text column: `~` on PostgreSQL, `REGEXP` (byte-wise, so case-sensitive)
/// on MySQL; SQLite has none (the parser refuses it before this point).
#[doc(hidden)]
#[macro_export]
macro_rules! __mcp_regex {
    (postgres, $null:ident, $col:path, $v:ident) => {
        ::std::boxed::Box::new($crate::__private::pg_regex(
            $crate::__mcp_col!($null, $col),
            ::std::string::String::from($v.as_str().unwrap_or_default())
                .into_sql::<$crate::__private::diesel::sql_types::Text>(),
        ))
    };
    (mysql, $null:ident, $col:path, $v:ident) => {
        ::std::boxed::Box::new($crate::__private::mysql_regexp(
            $crate::__private::binary($crate::__mcp_col!($null, $col)),
            ::std::string::String::from($v.as_str().unwrap_or_default())
                .into_sql::<$crate::__private::diesel::sql_types::Text>(),
        ))
    };
    ($flavor:ident, $null:ident, $col:path, $v:ident) => {
        return ::core::result::Result::Err($crate::filter::FilterError(::std::string::String::from(
            "operator `regex` does not apply: this database has no regular expressions",
        )))
    };
}
