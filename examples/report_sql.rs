//! Prints the SQL a report sends, with its `$n` placeholders, so that a benchmark can run the
//! same statement with pgbench beside the service: `cargo run --example report_sql -- summary`.
//! Placeholders: `summary` $1 plan, $2 year; `groups-municipality` the same; `trend` $1 plan,
//! $2 and $3 the first and last year; `matrix-goals` and `matrix-counts` $1 plan;
//! `matrix-counts-participant` $1 plan, $2 the role.

use kulturplan::db::reports::{self, Grouping};
use uuid::Uuid;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let plan = Uuid::nil();
    let sql = match which.as_str() {
        "summary" => reports::summary_sql(plan, 0),
        "trend" => reports::trend_sql(plan, 0, 0),
        "groups-municipality" => reports::summary_groups_sql(plan, 0, Grouping::Municipality),
        "matrix-goals" => reports::matrix_goals_sql(plan),
        "matrix-counts" => reports::matrix_counts_sql(plan, None),
        "matrix-counts-participant" => {
            reports::matrix_counts_sql(plan, Some(kulturplan::domain::Role::Participant))
        }
        other => {
            eprintln!(
                "unknown report `{other}`: summary, trend, groups-municipality, matrix-goals, matrix-counts, \
                 matrix-counts-participant"
            );
            std::process::exit(2);
        }
    };
    println!("{}", sql.text());
}
