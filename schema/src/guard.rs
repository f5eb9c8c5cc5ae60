//! What a session file must pass before this build runs any query on it.
//!
//! A session file comes from anyone. SQLite executes SQL that a file stores: a view is a
//! query, a trigger runs on writes, a generated column or an index expression is computed
//! on reads. So the reader
//!
//! 1. configures each connection defensively before it reads anything: no views, no
//!    triggers, `trusted_schema` off (no functions with side effects from the schema),
//!    defensive mode, query-only, and `sqlite3_limit`s on lengths, depth and schema size;
//! 2. compares the file's `sqlite_master` with the tables this build knows
//!    ([`crate::sql::TABLES`]): every object must be one of them, with the same definition,
//!    and there may be no view, trigger or unknown object. Only then are the tables read.
//!
//! A file that fails is refused with a message that names what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;
use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;

use crate::error::{Error, Result, SqlContext};
use crate::sql::{TABLES, create_all};

/// Longest string or blob a reader accepts from SQLite (chunk bodies, BTF, inspect JSON).
pub const MAX_VALUE_BYTES: i32 = 64 << 20;

/// Most objects (tables and indexes) a session's schema may list.
const MAX_SCHEMA_OBJECTS: usize = 256;

/// Configures a connection to an untrusted file: call before anything reads it.
pub(crate) fn harden(conn: &Connection, path: &Path) -> Result<()> {
    let ctx = || format!("reading {}", path.display());
    let config = [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_FKEY, false),
        (DbConfig::SQLITE_DBCONFIG_WRITABLE_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false),
    ];
    for (what, on) in config {
        conn.set_db_config(what, on).with_ctx(ctx)?;
    }
    let limits = [
        (Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, 64 << 10),
        (Limit::SQLITE_LIMIT_COLUMN, 64),
        (Limit::SQLITE_LIMIT_EXPR_DEPTH, 64),
        (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 4),
        (Limit::SQLITE_LIMIT_VDBE_OP, 100_000),
        (Limit::SQLITE_LIMIT_FUNCTION_ARG, 8),
        (Limit::SQLITE_LIMIT_ATTACHED, 0),
        (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000),
        (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 64),
        (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 1),
        (Limit::SQLITE_LIMIT_WORKER_THREADS, 0),
        (Limit::SQLITE_LIMIT_SCHEMA, 256 << 10),
    ];
    for (what, value) in limits {
        conn.set_limit(what, value).with_ctx(ctx)?;
    }
    conn.execute_batch(
        "PRAGMA trusted_schema = OFF;
         PRAGMA query_only = ON;
         PRAGMA cell_size_check = ON;
         PRAGMA mmap_size = 0;
         PRAGMA cache_size = -8192;",
    )
    .with_ctx(ctx)?;
    Ok(())
}

/// One object of `sqlite_master`, with its SQL in a comparable form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Object {
    kind: String,
    name: String,
    table: String,
    sql: Option<String>,
}

/// SQL with every run of white space made one space, as SQLite keeps the text as written.
fn normalize(sql: &str) -> String {
    sql.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The objects a session of this build has, by name (from creating the schema in memory,
/// so SQLite's own indexes for primary keys are named as SQLite names them).
fn expected() -> &'static BTreeMap<String, Object> {
    static EXPECTED: OnceLock<BTreeMap<String, Object>> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        conn.execute_batch(&create_all())
            .expect("the schema of this build is valid SQL");
        let mut out = BTreeMap::new();
        for o in read_objects(&conn).expect("the schema of this build reads back") {
            out.insert(o.name.clone(), o);
        }
        out
    })
}

fn read_objects(conn: &Connection) -> rusqlite::Result<Vec<Object>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT {}",
        MAX_SCHEMA_OBJECTS + 1
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(Object {
            kind: r.get(0)?,
            name: r.get(1)?,
            table: r.get(2)?,
            sql: r.get::<_, Option<String>>(3)?.map(|s| normalize(&s)),
        })
    })?;
    rows.collect()
}

fn refuse(path: &Path, reason: String) -> Error {
    Error::NotASession {
        path: path.to_owned(),
        reason,
    }
}

/// Whether `o` is an acceptable form of the known object `e` (the same definition now, or
/// one an earlier build wrote).
fn same_definition(o: &Object, e: &Object) -> bool {
    if o.kind != e.kind || o.table != e.table {
        return false;
    }
    if o.sql == e.sql {
        return true;
    }
    let earlier = TABLES
        .iter()
        .find(|t| t.name == e.name)
        .map_or(&[][..], |t| t.earlier);
    o.sql
        .as_deref()
        .is_some_and(|sql| earlier.iter().any(|old| normalize(old) == sql))
}

/// Checks that the file's schema lists only what this build knows, each with its known
/// definition. Reads nothing but `sqlite_master`.
pub(crate) fn check_schema(conn: &Connection, path: &Path) -> Result<BTreeSet<String>> {
    let objects =
        read_objects(conn).with_ctx(|| format!("reading the schema of {}", path.display()))?;
    if objects.len() > MAX_SCHEMA_OBJECTS {
        return Err(refuse(
            path,
            format!("its schema lists more than {MAX_SCHEMA_OBJECTS} objects"),
        ));
    }
    let expected = expected();
    let mut tables = BTreeSet::new();
    for o in &objects {
        let what = match o.kind.as_str() {
            "view" => Some("a view"),
            "trigger" => Some("a trigger"),
            "table" | "index" => None,
            _ => Some("an object of unknown type"),
        };
        if let Some(what) = what {
            return Err(refuse(
                path,
                format!(
                    "it defines {what} ({:?}), which a session never has; it was not read",
                    o.name
                ),
            ));
        }
        match expected.get(&o.name) {
            Some(e) if same_definition(o, e) => {
                if o.kind == "table" {
                    tables.insert(o.name.clone());
                }
            }
            Some(_) => {
                return Err(refuse(
                    path,
                    format!(
                        "its {} {:?} is not defined as a session's is; it was not read",
                        o.kind, o.name
                    ),
                ));
            }
            None => {
                return Err(refuse(
                    path,
                    format!(
                        "it has {} {:?} that a session does not have; it was not read",
                        if o.kind == "table" {
                            "a table"
                        } else {
                            "an index"
                        },
                        o.name
                    ),
                ));
            }
        }
    }
    if !tables.contains("meta") {
        return Err(refuse(path, "it has no meta table".into()));
    }
    Ok(tables)
}

/// Checks that every table of format `version` is there (`present` from [`check_schema`]).
pub(crate) fn check_tables_of_version(
    present: &BTreeSet<String>,
    version: u32,
    path: &Path,
) -> Result<()> {
    match TABLES.iter().find(|t| {
        t.since_format <= version && !t.optional_in.contains(&version) && !present.contains(t.name)
    }) {
        Some(t) => Err(refuse(
            path,
            format!(
                "it has no {} table, which format {version} has; it may be damaged",
                t.name
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_schema() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&create_all()).unwrap();
        c
    }

    fn check(c: &Connection) -> Result<BTreeSet<String>> {
        check_schema(c, Path::new("x.beefine"))
    }

    #[test]
    fn the_schema_of_this_build_passes() {
        let c = session_schema();
        let tables = check(&c).unwrap();
        assert_eq!(tables.len(), TABLES.len());
        check_tables_of_version(&tables, 1, Path::new("x")).unwrap();
    }

    #[test]
    fn views_triggers_and_strangers_are_refused() {
        for (extra, says) in [
            ("CREATE VIEW v AS SELECT 1", "defines a view (\"v\")"),
            (
                "CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END",
                "defines a trigger",
            ),
            ("CREATE TABLE extra (x)", "has a table \"extra\""),
            ("CREATE INDEX meta_value ON meta (value)", "has an index"),
        ] {
            let c = session_schema();
            c.execute_batch(extra).unwrap();
            let err = check(&c).unwrap_err().to_string();
            assert!(err.contains(says), "{extra}: {err}");
        }
    }

    #[test]
    fn a_redefined_table_is_refused() {
        let c = Connection::open_in_memory().unwrap();
        let sql = create_all().replace(
            "CREATE TABLE containers (",
            "CREATE TABLE containers (evil AS (1) VIRTUAL,",
        );
        c.execute_batch(&sql).unwrap();
        let err = check(&c).unwrap_err().to_string();
        assert!(err.contains("\"containers\" is not defined as"), "{err}");
    }

    #[test]
    fn white_space_does_not_matter() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&create_all().replace("\n", "\n\t  "))
            .unwrap();
        check(&c).unwrap();
    }

    #[test]
    fn a_missing_table_is_named() {
        let c = session_schema();
        c.execute_batch("DROP TABLE probes").unwrap();
        let tables = check(&c).unwrap();
        let err = check_tables_of_version(&tables, 1, Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no probes table"), "{err}");
    }
}
