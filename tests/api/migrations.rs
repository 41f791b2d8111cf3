//! Every migration reverts cleanly and applies again.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::helpers::TestApp;

#[tokio::test]
async fn all_migrations_revert_and_reapply() {
    let app = TestApp::spawn().await;
    let reverted = kulturplan::db::revert_all(&app.db_url)
        .await
        .expect("revert");
    assert!(reverted >= 1);
    let mut conn = AsyncPgConnection::establish(&app.db_url).await.unwrap();
    #[derive(diesel::prelude::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(left.n, 0, "down migrations leave no table behind");
    let applied = kulturplan::db::migrate(&app.db_url).await.expect("reapply");
    assert_eq!(applied.len(), reverted);
}
