//! A small builder for SQL whose shape depends on the request (optional filters, sort orders),
//! with every value bound as a parameter.
//!
//! Unlike diesel's `sql_query`, a statement built here can be kept as a prepared statement in
//! the connection's cache (keyed by its text), so a list query is planned once per connection
//! and shape rather than on every request.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types;
use diesel::{QueryResult, sql_types::Untyped};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    Int(i32),
    BigInt(i64),
    Text(String),
    Float(f32),
    Timestamp(DateTime<Utc>),
    UuidArray(Vec<Uuid>),
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
    uncached: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            values: Vec::new(),
            uncached: false,
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds a value and returns its placeholder (`$n`); a placeholder may be used repeatedly.
    pub fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Replaces the text, keeping the bound values (for prepending a WITH clause).
    pub fn replace_text(&mut self, text: String) {
        self.text = text;
    }

    /// Keeps this statement out of the prepared-statement cache: for shapes that vary too much
    /// to be worth a cache entry per connection.
    pub fn uncached(&mut self) {
        self.uncached = true;
    }

    pub fn into_query(self) -> Statement {
        Statement(self)
    }
}

/// A built statement, runnable with diesel-async's `RunQueryDsl` and loaded into
/// `QueryableByName` rows.
#[derive(Debug, Clone)]
pub struct Statement(Sql);

impl QueryId for Statement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement {
    type SqlType = Untyped;
}

impl Statement {
    fn push_value<'b>(out: &mut AstPass<'_, 'b, Pg>, value: &'b Value) -> QueryResult<()> {
        match value {
            Value::Uuid(v) => out.push_bind_param::<sql_types::Uuid, _>(v),
            Value::Int(v) => out.push_bind_param::<sql_types::Integer, _>(v),
            Value::BigInt(v) => out.push_bind_param::<sql_types::BigInt, _>(v),
            Value::Text(v) => out.push_bind_param::<sql_types::Text, _>(v),
            Value::Float(v) => out.push_bind_param::<sql_types::Float, _>(v),
            Value::Timestamp(v) => out.push_bind_param::<sql_types::Timestamptz, _>(v),
            Value::UuidArray(v) => out.push_bind_param::<sql_types::Array<sql_types::Uuid>, _>(v),
        }
    }
}

impl QueryFragment<Pg> for Statement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if self.0.uncached {
            out.unsafe_to_cache_prepared();
        }
        // The text names its values `$n`; diesel numbers placeholders itself, in order, so each
        // `$n` is replaced by a fresh placeholder bound to value n (a repeat binds it again).
        let text = &self.0.text;
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit() {
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                out.push_sql(&text[start..i]);
                let index: usize = text[i + 1..end].parse().map_err(|_| {
                    diesel::result::Error::QueryBuilderError("bad placeholder".into())
                })?;
                let value = index
                    .checked_sub(1)
                    .and_then(|n| self.0.values.get(n))
                    .ok_or_else(|| {
                        diesel::result::Error::QueryBuilderError("unbound placeholder".into())
                    })?;
                Self::push_value(&mut out, value)?;
                start = end;
                i = end;
            } else {
                i += 1;
            }
        }
        out.push_sql(&text[start..]);
        Ok(())
    }
}
