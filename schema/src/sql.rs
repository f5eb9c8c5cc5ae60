//! The SQLite schema, one entry per table. `SCHEMA.md` documents it for people; this is the
//! source of truth, for the writer (which creates it) and for the reader (which refuses any
//! file whose schema is not exactly one of these, see `guard.rs`).
//!
//! Adding a table is one entry in [`TABLES`] (with the format version that introduced it);
//! changing one keeps its old definition in `earlier` so that files written before still
//! open.

/// `PRAGMA application_id` of a session file: "BEEF" in ASCII.
pub const APPLICATION_ID: i32 = 0x4245_4546;

/// Format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

/// One table of the session file.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The format version that introduced the table: older files do not have it.
    pub since_format: u32,
    /// `CREATE TABLE` as this build writes it.
    pub create: &'static str,
    /// `CREATE INDEX` statements on the table.
    pub indexes: &'static [&'static str],
    /// Earlier definitions of the table that files of older builds may hold.
    pub earlier: &'static [&'static str],
    /// Format versions whose files may lack the table (written before it was added).
    pub optional_in: &'static [u32],
}

/// Every table of a session file.
pub const TABLES: &[Table] = &[
    Table {
        name: "meta",
        since_format: 1,
        create: "CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "chunks",
        since_format: 1,
        create: "CREATE TABLE chunks (
            chunk_seq      INTEGER PRIMARY KEY,
            first_ts_nanos INTEGER NOT NULL,
            last_ts_nanos  INTEGER NOT NULL,
            event_count    INTEGER NOT NULL,
            kinds_mask     INTEGER NOT NULL,
            tgid_bloom     BLOB    NOT NULL,
            cgroup_bloom   BLOB    NOT NULL,
            raw_len        INTEGER NOT NULL,
            body           BLOB    NOT NULL
        )",
        indexes: &["CREATE INDEX chunks_by_time ON chunks (first_ts_nanos)"],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "kind_counts",
        since_format: 1,
        create: "CREATE TABLE kind_counts (
            kind   TEXT PRIMARY KEY,
            events INTEGER NOT NULL
        ) WITHOUT ROWID",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "processes",
        since_format: 1,
        create: "CREATE TABLE processes (
            pid            INTEGER NOT NULL,
            start_ts_nanos INTEGER NOT NULL,
            ppid           INTEGER NOT NULL,
            comm           TEXT    NOT NULL,
            exe            TEXT,
            argv           TEXT    NOT NULL,
            exit_ts_nanos  INTEGER,
            exit_code      INTEGER,
            container_id   TEXT,
            component      TEXT    NOT NULL,
            cgroup_id      INTEGER NOT NULL,
            pid_ns         INTEGER NOT NULL,
            mnt_ns         INTEGER NOT NULL,
            net_ns         INTEGER NOT NULL,
            PRIMARY KEY (pid, start_ts_nanos)
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "containers",
        since_format: 1,
        create: "CREATE TABLE containers (
            container_id       TEXT PRIMARY KEY,
            name               TEXT NOT NULL,
            image              TEXT NOT NULL,
            image_id           TEXT NOT NULL,
            init_pid           INTEGER,
            cgroup_id          INTEGER,
            cgroup_path        TEXT,
            created_ts_nanos   INTEGER,
            started_ts_nanos   INTEGER,
            died_ts_nanos      INTEGER,
            destroyed_ts_nanos INTEGER,
            exit_code          INTEGER,
            pid_ns             INTEGER,
            mnt_ns             INTEGER,
            net_ns             INTEGER,
            uts_ns             INTEGER,
            ipc_ns             INTEGER,
            cgroup_ns          INTEGER,
            user_ns            INTEGER,
            time_ns            INTEGER,
            lower_dirs         TEXT NOT NULL,
            upper_dir          TEXT,
            work_dir           TEXT,
            merged_dir         TEXT,
            inspect_json       TEXT NOT NULL,
            pod_id             TEXT
        )",
        indexes: &[],
        // Before pods were recorded (format 2 files of earlier builds): no pod_id.
        earlier: &["CREATE TABLE containers (
            container_id       TEXT PRIMARY KEY,
            name               TEXT NOT NULL,
            image              TEXT NOT NULL,
            image_id           TEXT NOT NULL,
            init_pid           INTEGER,
            cgroup_id          INTEGER,
            cgroup_path        TEXT,
            created_ts_nanos   INTEGER,
            started_ts_nanos   INTEGER,
            died_ts_nanos      INTEGER,
            destroyed_ts_nanos INTEGER,
            exit_code          INTEGER,
            pid_ns             INTEGER,
            mnt_ns             INTEGER,
            net_ns             INTEGER,
            uts_ns             INTEGER,
            ipc_ns             INTEGER,
            cgroup_ns          INTEGER,
            user_ns            INTEGER,
            time_ns            INTEGER,
            lower_dirs         TEXT NOT NULL,
            upper_dir          TEXT,
            work_dir           TEXT,
            merged_dir         TEXT,
            inspect_json       TEXT NOT NULL
        )"],
        optional_in: &[],
    },
    Table {
        name: "pods",
        since_format: 2,
        create: "CREATE TABLE pods (
            pod_id               TEXT PRIMARY KEY,
            name                 TEXT    NOT NULL,
            namespace            TEXT    NOT NULL,
            uid                  TEXT    NOT NULL,
            attempt              INTEGER NOT NULL,
            runtime              TEXT    NOT NULL,
            ip                   TEXT,
            sandbox_pid          INTEGER,
            net_ns               INTEGER,
            ipc_ns               INTEGER,
            uts_ns               INTEGER,
            pid_ns               INTEGER,
            mnt_ns               INTEGER,
            namespace_modes_json TEXT    NOT NULL,
            cgroup_parent        TEXT,
            created_ts_nanos     INTEGER,
            stopped_ts_nanos     INTEGER,
            removed_ts_nanos     INTEGER,
            labels_json          TEXT    NOT NULL,
            status_json          TEXT    NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        // Added within format 2: its earlier files have no pods table.
        optional_in: &[2],
    },
    Table {
        name: "images",
        since_format: 1,
        create: "CREATE TABLE images (
            image_id        TEXT PRIMARY KEY,
            reference       TEXT NOT NULL,
            manifest_digest TEXT,
            config_json     TEXT NOT NULL,
            size_bytes      INTEGER NOT NULL,
            existed_before  INTEGER NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "layers",
        since_format: 1,
        create: "CREATE TABLE layers (
            image_id    TEXT    NOT NULL,
            layer_index INTEGER NOT NULL,
            digest      TEXT,
            diff_id     TEXT    NOT NULL,
            size_bytes  INTEGER NOT NULL,
            overlay_dir TEXT,
            PRIMARY KEY (image_id, layer_index)
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "docker_events",
        since_format: 1,
        create: "CREATE TABLE docker_events (
            ts_nanos        INTEGER NOT NULL,
            event_type      TEXT    NOT NULL,
            action          TEXT    NOT NULL,
            actor_id        TEXT    NOT NULL,
            attributes_json TEXT    NOT NULL
        )",
        indexes: &["CREATE INDEX docker_events_by_time ON docker_events (ts_nanos)"],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "resource_samples",
        since_format: 1,
        create: "CREATE TABLE resource_samples (
            ts_nanos        INTEGER NOT NULL,
            container_id    TEXT    NOT NULL,
            cpu_nanos       INTEGER NOT NULL,
            mem_bytes       INTEGER NOT NULL,
            mem_limit_bytes INTEGER NOT NULL,
            blk_read_bytes  INTEGER NOT NULL,
            blk_write_bytes INTEGER NOT NULL,
            net_rx_bytes    INTEGER NOT NULL,
            net_tx_bytes    INTEGER NOT NULL,
            pids            INTEGER NOT NULL
        )",
        indexes: &[
            "CREATE INDEX resource_samples_by_container ON resource_samples (container_id, ts_nanos)",
        ],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "daemon_samples",
        since_format: 1,
        create: "CREATE TABLE daemon_samples (
            ts_nanos           INTEGER NOT NULL,
            containers_running INTEGER NOT NULL,
            containers_paused  INTEGER NOT NULL,
            containers_stopped INTEGER NOT NULL,
            images             INTEGER NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "losses",
        since_format: 1,
        create: "CREATE TABLE losses (
            ts_nanos       INTEGER NOT NULL,
            until_ts_nanos INTEGER NOT NULL,
            source         TEXT    NOT NULL,
            cpu            INTEGER NOT NULL,
            lost_events    INTEGER NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "probes",
        since_format: 1,
        create: "CREATE TABLE probes (
            probe_id      INTEGER PRIMARY KEY,
            name          TEXT    NOT NULL,
            builtin       INTEGER NOT NULL,
            programs_json TEXT    NOT NULL,
            record_type   TEXT,
            btf           BLOB    NOT NULL,
            object_sha256 TEXT
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "bookmarks",
        since_format: 1,
        create: "CREATE TABLE bookmarks (
            ts_nanos INTEGER NOT NULL,
            label    TEXT    NOT NULL,
            note     TEXT    NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        optional_in: &[],
    },
    Table {
        name: "chapters",
        since_format: 2,
        create: "CREATE TABLE chapters (
            chapter      TEXT    NOT NULL,
            title        TEXT    NOT NULL,
            ts_nanos     INTEGER NOT NULL,
            end_ts_nanos INTEGER NOT NULL,
            container_id TEXT,
            events       INTEGER NOT NULL,
            notice       TEXT    NOT NULL
        )",
        indexes: &[],
        earlier: &[],
        // Written when the recording finishes: a recording stopped before has none.
        optional_in: &[2],
    },
];

/// The statements that create an empty session's schema.
pub fn create_all() -> String {
    let mut sql = String::new();
    for t in TABLES {
        sql.push_str(t.create);
        sql.push_str(";\n");
        for i in t.indexes {
            sql.push_str(i);
            sql.push_str(";\n");
        }
    }
    sql
}
