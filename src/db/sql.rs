//! A small builder for SQL whose shape depends on the request (optional filters, sort orders),
//! with every value bound as a parameter.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    Int(i32),
    Text(String),
    Float(f32),
    Timestamp(DateTime<Utc>),
    UuidArray(Vec<Uuid>),
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds a value and returns its placeholder (`$n`).
    pub fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.values {
            query = match value {
                Value::Uuid(v) => query.bind::<sql_types::Uuid, _>(v),
                Value::Int(v) => query.bind::<sql_types::Integer, _>(v),
                Value::Text(v) => query.bind::<sql_types::Text, _>(v),
                Value::Float(v) => query.bind::<sql_types::Float, _>(v),
                Value::Timestamp(v) => query.bind::<sql_types::Timestamptz, _>(v),
                Value::UuidArray(v) => query.bind::<sql_types::Array<sql_types::Uuid>, _>(v),
            };
        }
        query
    }
}

impl Sql {
    /// Replaces the text, keeping the bound values (for prepending a WITH clause).
    pub fn replace_text(&mut self, text: String) {
        self.text = text;
    }
}
