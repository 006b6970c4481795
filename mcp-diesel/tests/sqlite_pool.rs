//! `sqlite_pool` switches the file to WAL (a lasting change of the file, made when the pool
//! opens); `sqlite_pool_with(.., JournalMode::Keep)` leaves the file's mode as it is.

#![allow(missing_docs)]
#![cfg(feature = "sqlite")]

use diesel::prelude::*;
use diesel::sql_types::Text;
use mcp_diesel::{JournalMode, sqlite_pool, sqlite_pool_with};

#[derive(QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

fn fresh_file(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mcp-diesel-pool-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("db.sqlite").to_str().unwrap().to_owned()
}

/// The file's journal mode as a new, plain connection sees it.
fn mode_of(path: &str) -> String {
    let mut conn = SqliteConnection::establish(path).unwrap();
    diesel::sql_query("PRAGMA journal_mode").get_result::<Mode>(&mut conn).unwrap().journal_mode
}

#[test]
fn the_default_pool_switches_the_file_to_wal() {
    let path = fresh_file("wal");
    let pool = sqlite_pool(&path, 2).unwrap();
    drop(pool.get().unwrap());
    assert_eq!(mode_of(&path), "wal");
}

#[test]
fn keep_leaves_the_journal_mode_of_the_file() {
    let path = fresh_file("keep");
    let pool = sqlite_pool_with(&path, 2, JournalMode::Keep).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
    drop(conn);
    assert_eq!(mode_of(&path), "delete", "the file keeps SQLite's default rollback journal");
    // The pool's other settings still hold on its connections.
    let mut conn = pool.get().unwrap();
    #[derive(QueryableByName)]
    struct On {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        foreign_keys: i32,
    }
    let fk = diesel::sql_query("PRAGMA foreign_keys").get_result::<On>(&mut conn).unwrap();
    assert_eq!(fk.foreign_keys, 1);
}
