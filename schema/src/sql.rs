//! The SQLite schema. `SCHEMA.md` documents it for people; this is the source of truth.

/// `PRAGMA application_id` of a session file: "BEEF" in ASCII.
pub const APPLICATION_ID: i32 = 0x4245_4546;

/// Format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

pub const CREATE: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE chunks (
    chunk_seq      INTEGER PRIMARY KEY,
    first_ts_nanos INTEGER NOT NULL,
    last_ts_nanos  INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    kinds_mask     INTEGER NOT NULL,
    tgid_bloom     BLOB    NOT NULL,
    cgroup_bloom   BLOB    NOT NULL,
    raw_len        INTEGER NOT NULL,
    body           BLOB    NOT NULL
);
CREATE INDEX chunks_by_time ON chunks (first_ts_nanos);

CREATE TABLE kind_counts (
    kind   TEXT PRIMARY KEY,
    events INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE processes (
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
);

CREATE TABLE containers (
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
);

CREATE TABLE pods (
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
);

CREATE TABLE images (
    image_id        TEXT PRIMARY KEY,
    reference       TEXT NOT NULL,
    manifest_digest TEXT,
    config_json     TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    existed_before  INTEGER NOT NULL
);

CREATE TABLE layers (
    image_id    TEXT    NOT NULL,
    layer_index INTEGER NOT NULL,
    digest      TEXT,
    diff_id     TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL,
    overlay_dir TEXT,
    PRIMARY KEY (image_id, layer_index)
);

CREATE TABLE docker_events (
    ts_nanos        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    attributes_json TEXT    NOT NULL
);
CREATE INDEX docker_events_by_time ON docker_events (ts_nanos);

CREATE TABLE resource_samples (
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
);
CREATE INDEX resource_samples_by_container ON resource_samples (container_id, ts_nanos);

CREATE TABLE daemon_samples (
    ts_nanos           INTEGER NOT NULL,
    containers_running INTEGER NOT NULL,
    containers_paused  INTEGER NOT NULL,
    containers_stopped INTEGER NOT NULL,
    images             INTEGER NOT NULL
);

CREATE TABLE losses (
    ts_nanos       INTEGER NOT NULL,
    until_ts_nanos INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    cpu            INTEGER NOT NULL,
    lost_events    INTEGER NOT NULL
);

CREATE TABLE probes (
    probe_id      INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    builtin       INTEGER NOT NULL,
    programs_json TEXT    NOT NULL,
    record_type   TEXT,
    btf           BLOB    NOT NULL,
    object_sha256 TEXT
);

CREATE TABLE bookmarks (
    ts_nanos INTEGER NOT NULL,
    label    TEXT    NOT NULL,
    note     TEXT    NOT NULL
);
"#;
