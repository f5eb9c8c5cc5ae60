//! The window: loads sessions in the background, lays out the panels, applies the commands
//! they return after each frame, follows live sessions, remembers layout and filters, and
//! takes the `--screenshot`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use beefine_schema::{Event, Status};
use egui::{CentralPanel, Context, Id, Panel, ScrollArea, Ui, ViewportCommand};
use serde::{Deserialize, Serialize};

use crate::state::filter::Filter;
use crate::state::session::{Entities, Follow, LoadError, LoadedSession};
use crate::state::{Command, Viewer};
use crate::ui::top_bar::PanelToggles;
use crate::ui::{self, TEXT_FILTER_ID};

/// How often a live session is polled for new events.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The session opened when no file is given: a real recording of `docker pull` and
/// `docker run` of nginx (fixtures/sessions/pull-nginx.beefine, 150 KB).
pub const BUNDLED_SESSION: &[u8] = include_bytes!("../../fixtures/sessions/pull-nginx.beefine");
pub const BUNDLED_NAME: &str = "pull-nginx.beefine";

/// What is remembered between runs: the layout and the playback speed. Filters are not:
/// they belong to one session, and one reapplied silently to the next file hides events
/// without saying so.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub panels: PanelToggles,
    pub speed: Option<f64>,
}

const SETTINGS_KEY: &str = "beefine-view";

/// Messages from the thread that reads (and then follows) a session.
#[derive(Debug)]
pub enum LoaderMsg {
    Loaded(Box<LoadedSession>),
    Failed(LoadError),
    /// New events of a live session, with the entity tables as they are now.
    Appended {
        events: Vec<Event>,
        entities: Option<Box<Entities>>,
        errors: Vec<String>,
        status: Status,
        end_ts_nanos: Option<u64>,
    },
    /// The writer rewrote its chunks (it finished): read the session again.
    Rewritten,
}

/// Reads a session in a thread; a live one is then polled every [`POLL_INTERVAL`] and its
/// new events sent on. The channel is bounded: a window that does not keep up slows the
/// poller down, nothing is dropped. The thread ends when the receiver is dropped.
pub fn spawn_loader(path: PathBuf, ctx: Option<Context>) -> Receiver<LoaderMsg> {
    let (tx, rx) = sync_channel(4);
    let spawned = std::thread::Builder::new()
        .name("session-loader".into())
        .spawn(move || {
            let repaint = || {
                if let Some(ctx) = &ctx {
                    ctx.request_repaint();
                }
            };
            // A bug met while reading must not leave the window waiting: it is reported as a
            // failure to open.
            let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                LoadedSession::load(&path)
            }))
            .unwrap_or_else(|panic| {
                Err(LoadError {
                    path: path.clone(),
                    message: format!(
                        "reading the session failed unexpectedly (a bug in beefine-view: {})",
                        panic_text(panic.as_ref())
                    ),
                })
            });
            match loaded {
                Err(e) => {
                    let _ = tx.send(LoaderMsg::Failed(e));
                    repaint();
                }
                Ok((loaded, follow)) => {
                    let live = loaded.status == Status::Live;
                    if tx.send(LoaderMsg::Loaded(Box::new(loaded))).is_err() {
                        return;
                    }
                    repaint();
                    if live {
                        follow_session(follow, &tx, &repaint);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        let (tx2, rx2) = sync_channel(1);
        let _ = tx2.send(LoaderMsg::Failed(LoadError {
            path: PathBuf::new(),
            message: format!("cannot start a thread to read the session: {e}"),
        }));
        return rx2;
    }
    rx
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

fn follow_session(follow: Follow, tx: &SyncSender<LoaderMsg>, repaint: &dyn Fn()) {
    let Follow {
        mut session,
        mut cursor,
    } = follow;
    let mut last_status = Status::Live;
    loop {
        std::thread::sleep(POLL_INTERVAL);
        let msg = match cursor.poll(&mut session) {
            Ok(u) if u.rewritten => LoaderMsg::Rewritten,
            Ok(u) => {
                let status = session.status();
                if u.events.is_empty() && u.errors.is_empty() && status == last_status {
                    continue;
                }
                last_status = status;
                let entities = Entities::read(&session).ok().map(Box::new);
                LoaderMsg::Appended {
                    events: u.events,
                    entities,
                    errors: u.errors.iter().map(ToString::to_string).collect(),
                    status,
                    end_ts_nanos: session.meta().end_ts_nanos,
                }
            }
            Err(e) => LoaderMsg::Appended {
                events: Vec::new(),
                entities: None,
                errors: vec![e.to_string()],
                status: last_status,
                end_ts_nanos: None,
            },
        };
        let done = match &msg {
            LoaderMsg::Rewritten => true,
            LoaderMsg::Appended { status, .. } => *status != Status::Live,
            _ => false,
        };
        if tx.send(msg).is_err() {
            return;
        }
        repaint();
        if done {
            return;
        }
    }
}

enum AppState {
    Loading { path: PathBuf, since: Instant },
    Ready(Box<Viewer>),
    Failed(LoadError),
}

/// Where the outcome of a screenshot is reported: `None` until it is taken.
pub type ScreenshotOutcome = Arc<Mutex<Option<Result<(), String>>>>;

/// A screenshot to take once the session is on screen.
struct ScreenshotJob {
    out: PathBuf,
    frames_ready: u32,
    requested: bool,
    result: ScreenshotOutcome,
}

/// How the window starts.
#[derive(Debug, Default)]
pub struct StartOptions {
    pub path: Option<PathBuf>,
    /// Save a PNG of the window here and close.
    pub screenshot: Option<PathBuf>,
    /// Where the screenshot's outcome is reported.
    pub screenshot_result: Option<ScreenshotOutcome>,
    /// Read the session before returning (tests) instead of in the background.
    pub blocking: bool,
    /// Ignore remembered settings (screenshots, tests).
    pub fresh: bool,
    /// Where to put the cursor, in seconds from the start of the session.
    pub at_seconds: Option<f64>,
    /// Show only these kinds (by name).
    pub kinds: Option<Vec<beefine_schema::Kind>>,
    /// Compare the session with this one, side by side.
    pub compare: Option<PathBuf>,
}

pub struct ViewerApp {
    state: AppState,
    settings: Settings,
    /// The filter a newly opened session starts with (`--kinds`).
    start_filter: Filter,
    loader: Option<Receiver<LoaderMsg>>,
    /// A reload of the open session (after the writer rewrote it), shown when complete.
    reloading: bool,
    path_text: String,
    focus_text: bool,
    screenshot: Option<ScreenshotJob>,
    fresh: bool,
    /// Cursor time asked for on the command line, applied once the session is loaded.
    start_at: Option<f64>,
    /// The bundled session written to a temporary file, removed on exit.
    bundled: Option<PathBuf>,
    ctx: Option<Context>,
    /// Live-tail problems, shown in the top bar's tooltip.
    tail_errors: Vec<String>,
    /// The open session compared with another (`--compare`).
    compare: Option<crate::state::compare::Comparison>,
}

impl ViewerApp {
    pub fn new(cc: &eframe::CreationContext<'_>, opts: StartOptions) -> Self {
        ui::setup_style(&cc.egui_ctx);
        let settings = if opts.fresh {
            Settings::default()
        } else {
            cc.storage
                .and_then(|s| eframe::get_value::<Settings>(s, SETTINGS_KEY))
                .unwrap_or_default()
        };
        Self::start(Some(cc.egui_ctx.clone()), settings, opts)
    }

    /// An app without a window (tests): `ctx` is used to wake the window when a background
    /// load finishes.
    pub fn start(ctx: Option<Context>, settings: Settings, opts: StartOptions) -> Self {
        let mut start_filter = Filter::default();
        if let Some(kinds) = &opts.kinds {
            start_filter.only_kinds(kinds);
        }
        let mut app = Self {
            state: AppState::Failed(LoadError {
                path: PathBuf::new(),
                message: String::new(),
            }),
            settings,
            start_filter,
            loader: None,
            reloading: false,
            path_text: String::new(),
            focus_text: false,
            screenshot: opts.screenshot.map(|out| ScreenshotJob {
                out,
                frames_ready: 0,
                requested: false,
                result: opts.screenshot_result.unwrap_or_default(),
            }),
            fresh: opts.fresh,
            start_at: opts.at_seconds,
            bundled: None,
            ctx,
            tail_errors: Vec::new(),
            compare: None,
        };
        let path = match opts.path {
            Some(p) => p,
            None => match write_bundled() {
                Ok(p) => {
                    app.bundled = Some(p.clone());
                    p
                }
                Err(e) => {
                    app.state = AppState::Failed(LoadError {
                        path: PathBuf::from(BUNDLED_NAME),
                        message: format!("cannot unpack the bundled example session: {e}"),
                    });
                    return app;
                }
            },
        };
        if let Some(b) = &opts.compare {
            app.compare = Some(ui::compare::start(&path, b, app.ctx.clone(), opts.blocking));
        }
        if opts.blocking {
            app.state = match LoadedSession::load(&path) {
                Ok((loaded, _)) => AppState::Ready(Box::new(app.new_viewer(loaded))),
                Err(e) => AppState::Failed(e),
            };
        } else {
            app.open(path);
        }
        app
    }

    /// Starts reading a session in the background.
    pub fn open(&mut self, path: PathBuf) {
        self.path_text = path.display().to_string();
        self.loader = Some(spawn_loader(path.clone(), self.ctx.clone()));
        self.reloading = false;
        self.state = AppState::Loading {
            path,
            since: Instant::now(),
        };
    }

    fn new_viewer(&mut self, loaded: LoadedSession) -> Viewer {
        let live = loaded.status == Status::Live;
        let mut v = Viewer::new(loaded, self.start_filter.clone());
        if let Some(speed) = self.settings.speed {
            v.time.speed = speed;
        }
        if let Some(secs) = self.start_at.take() {
            let ts = v.session.origin() as f64 + secs * 1e9;
            v.apply(Command::SetCursor(ts.max(0.0) as u64));
            v.time.ensure_visible(v.time.cursor());
        } else if live {
            v.apply(Command::SetFollow(true));
        }
        v
    }

    pub fn viewer(&self) -> Option<&Viewer> {
        match &self.state {
            AppState::Ready(v) => Some(v),
            _ => None,
        }
    }

    pub fn viewer_mut(&mut self) -> Option<&mut Viewer> {
        match &mut self.state {
            AppState::Ready(v) => Some(v),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&LoadError> {
        match &self.state {
            AppState::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub fn comparison(&self) -> Option<&crate::state::compare::Comparison> {
        self.compare.as_ref()
    }

    pub fn is_loading(&self) -> bool {
        matches!(self.state, AppState::Loading { .. })
    }

    pub fn settings(&self) -> Settings {
        let mut s = self.settings.clone();
        if let Some(v) = self.viewer() {
            s.speed = Some(v.time.speed);
        }
        s
    }

    fn poll_loader(&mut self, ctx: &Context) {
        let Some(rx) = &self.loader else {
            return;
        };
        let mut msgs = Vec::new();
        let mut disconnected = false;
        loop {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.loader = None;
                    disconnected = true;
                    break;
                }
            }
        }
        for msg in msgs {
            match msg {
                LoaderMsg::Loaded(loaded) => {
                    let title = format!("beefine-view — {}", loaded.meta.info.session_name);
                    ctx.send_viewport_cmd(ViewportCommand::Title(title));
                    let mut v = self.new_viewer(*loaded);
                    if self.reloading
                        && let AppState::Ready(old) = &self.state
                    {
                        // The same session read again: keep where the person was.
                        v.set_filter(old.filter.clone());
                        let (lo, hi) = old.time.view();
                        v.time.set_view(lo, hi);
                        v.apply(Command::SetCursor(old.time.cursor()));
                        v.time.follow = old.time.follow;
                        v.time.speed = old.time.speed;
                    }
                    self.reloading = false;
                    self.state = AppState::Ready(Box::new(v));
                }
                LoaderMsg::Failed(e) => {
                    if !self.reloading {
                        self.path_text = e.path.display().to_string();
                        self.state = AppState::Failed(e);
                    } else {
                        self.tail_errors.push(e.message);
                    }
                    self.reloading = false;
                }
                LoaderMsg::Appended {
                    events,
                    entities,
                    errors,
                    status,
                    end_ts_nanos,
                } => {
                    self.tail_errors.extend(errors);
                    if let AppState::Ready(v) = &mut self.state {
                        if let Some(e) = entities {
                            v.set_entities(*e);
                        }
                        v.session.status = status;
                        if end_ts_nanos.is_some() {
                            v.session.meta.end_ts_nanos = end_ts_nanos;
                        }
                        v.add_events(events);
                        if status != Status::Live {
                            v.time.follow = false;
                        }
                    }
                }
                LoaderMsg::Rewritten => {
                    if let AppState::Ready(v) = &self.state {
                        let path = v.session.path.clone();
                        self.loader = Some(spawn_loader(path, self.ctx.clone()));
                        self.reloading = true;
                    }
                }
            }
        }
        // The reader thread ended without a word (it stopped on a bug): say so rather than
        // wait.
        if disconnected && self.loader.is_none() {
            if let AppState::Loading { path, .. } = &self.state {
                let path = path.clone();
                self.path_text = path.display().to_string();
                self.state = AppState::Failed(LoadError {
                    path,
                    message: "the reader of the session stopped unexpectedly".into(),
                });
            } else if self.reloading {
                self.reloading = false;
                self.tail_errors
                    .push("reading the session again stopped unexpectedly".into());
            }
        }
    }

    /// Draws one frame and applies what it asked for. `App::ui` calls this; tests call it
    /// through egui_kittest.
    pub fn draw(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll_loader(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            self.open(p);
        }
        let mut cmds = Vec::new();
        match &mut self.state {
            AppState::Loading { path, since } => {
                let secs = since.elapsed().as_secs_f64();
                let path = path.clone();
                CentralPanel::default().show(ui, |ui| ui::status::loading_ui(ui, &path, secs));
                ctx.request_repaint_after(Duration::from_millis(100));
            }
            AppState::Failed(e) => {
                let e = e.clone();
                CentralPanel::default().show(ui, |ui| {
                    cmds.extend(ui::status::error_ui(ui, &e, &mut self.path_text));
                });
            }
            AppState::Ready(v) => {
                if self.focus_text {
                    self.settings.panels.filters = true;
                    ctx.memory_mut(|m| m.request_focus(Id::unique(TEXT_FILTER_ID)));
                    self.focus_text = false;
                }
                let (more, shown) = ui::compare::compared_ui(ui, v, self.compare.as_mut());
                cmds.extend(more);
                if !shown {
                    cmds.extend(ui::keys::key_commands(&ctx, v));
                    cmds.extend(viewer_ui(
                        ui,
                        v,
                        &mut self.settings.panels,
                        &self.tail_errors,
                    ));
                }
                v.scroll_to_selection = false;
            }
        }
        for cmd in cmds {
            match cmd {
                Command::Open(path) => self.open(path),
                Command::FocusText => self.focus_text = true,
                Command::SaveBookmarks(copy) => {
                    if let AppState::Ready(v) = &mut self.state {
                        crate::handout::save_bookmarks(v, copy);
                    }
                }
                Command::ExportChapter {
                    chapter,
                    html,
                    path,
                } => {
                    if let AppState::Ready(v) = &mut self.state {
                        let text = crate::handout::handout(v, chapter, html);
                        v.story.message = Some(match std::fs::write(&path, text) {
                            Ok(()) => format!("wrote {}", path.display()),
                            Err(e) => format!("cannot write {}: {e}", path.display()),
                        });
                    }
                }
                other => {
                    if let AppState::Ready(v) = &mut self.state {
                        v.apply(other);
                    }
                }
            }
        }
        if let AppState::Ready(v) = &mut self.state
            && v.time.playing
        {
            let dt = ctx.input(|i| i.stable_dt).clamp(0.0, 0.1);
            v.tick(f64::from(dt));
            ctx.request_repaint();
        }
        self.screenshot_step(&ctx);
    }

    fn screenshot_step(&mut self, ctx: &Context) {
        let loading = self.is_loading()
            || self.compare.as_ref().is_some_and(|c| {
                matches!(c.status, crate::state::compare::CompareStatus::Computing)
            });
        // A picture of the error is taken too, and the outcome says it failed.
        let failed = self.error().map(|e| e.message.clone());
        let Some(job) = &mut self.screenshot else {
            return;
        };
        if loading {
            return;
        }
        if job.result.lock().is_ok_and(|r| r.is_some()) {
            ctx.send_viewport_cmd(ViewportCommand::Close);
            return;
        }
        job.frames_ready += 1;
        // A few frames let panels settle their sizes before the picture is taken.
        if job.frames_ready >= 5 && !job.requested {
            job.requested = true;
            let out = job.out.clone();
            let result = job.result.clone();
            let waker = ctx.clone();
            ctx.request_screenshot(move |image| {
                let r = save_png(&out, &image).and_then(|()| match failed {
                    Some(message) => Err(format!(
                        "saved {}, but the session could not be opened: {message}",
                        out.display()
                    )),
                    None => Ok(()),
                });
                if let Ok(mut slot) = result.lock() {
                    *slot = Some(r);
                }
                waker.request_repaint();
            });
        }
        ctx.request_repaint();
    }
}

impl Drop for ViewerApp {
    fn drop(&mut self) {
        if let Some(p) = &self.bundled {
            let _ = std::fs::remove_file(p);
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if !self.fresh {
            eframe::set_value(storage, SETTINGS_KEY, &self.settings());
        }
    }

    fn persist_egui_memory(&self) -> bool {
        !self.fresh
    }
}

/// The panels of a loaded session.
pub fn viewer_ui(
    ui: &mut Ui,
    v: &Viewer,
    panels: &mut PanelToggles,
    tail_errors: &[String],
) -> Vec<Command> {
    let mut cmds = Vec::new();
    Panel::top("top-bar").show(ui, |ui| {
        ui.add_space(2.0);
        cmds.extend(ui::top_bar::top_bar_ui(ui, v, panels));
        if !tail_errors.is_empty() {
            ui.label(
                egui::RichText::new(format!(
                    "⚠ live tail: {}",
                    tail_errors.last().map_or("", |s| s)
                ))
                .color(ui::FAILED_COLOR),
            );
        }
    });
    if panels.filters {
        Panel::left("filters")
            .default_size(270.0)
            .size_range(180.0..=480.0)
            .show(ui, |ui| {
                ScrollArea::vertical()
                    .id_salt("left-scroll")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        cmds.extend(ui::chapters::story_ui(ui, v));
                        ui.separator();
                        cmds.extend(ui::filters::filters_ui(ui, v));
                    });
            });
    }
    if panels.details {
        Panel::right("side")
            .default_size(400.0)
            .size_range(260.0..=720.0)
            .show(ui, |ui| {
                let h = ui.available_height();
                // Details above, the container below, split by a handle people can drag.
                Panel::top("details-pane")
                    .resizable(true)
                    .default_size(h * 0.55)
                    .size_range(120.0..=(h - 80.0).max(121.0))
                    .show(ui, |ui| {
                        ScrollArea::vertical()
                            .id_salt("details-scroll")
                            .auto_shrink([false, false])
                            .show(ui, |ui| cmds.extend(ui::details::details_ui(ui, v)));
                    });
                ScrollArea::vertical()
                    .id_salt("container-scroll")
                    .auto_shrink([false, false])
                    .show(ui, |ui| cmds.extend(ui::container::container_ui(ui, v)));
            });
    }
    if panels.charts && v.session.samples.iter().all(Vec::is_empty) {
        // Nothing to chart: a line that says so instead of an empty panel.
        Panel::bottom("no-charts").resizable(false).show(ui, |ui| {
            ui.label(egui::RichText::new("No resource samples in this session.").weak());
        });
    } else if panels.charts {
        Panel::bottom("charts")
            .resizable(true)
            .default_size(180.0)
            .size_range(100.0..=480.0)
            .show(ui, |ui| {
                ui.add_space(2.0);
                cmds.extend(ui::charts::charts_ui(ui, v));
            });
    }
    CentralPanel::default().show(ui, |ui| {
        cmds.extend(ui::chapters::chapter_band_ui(
            ui,
            v,
            ui::timeline::LABEL_WIDTH,
        ));
        cmds.extend(ui::timeline::timeline_ui(ui, v));
        ui.add_space(4.0);
        cmds.extend(ui::table::table_ui(ui, v));
    });
    if v.help_open {
        cmds.extend(ui::help::help_ui(ui.ctx()));
    }
    cmds.extend(ui::presentation::presentation_ui(ui.ctx(), v));
    cmds
}

/// Writes the bundled session to a private temporary directory.
fn write_bundled() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("beefine-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(BUNDLED_NAME);
    std::fs::write(&path, BUNDLED_SESSION)?;
    Ok(path)
}

/// Saves a screenshot as PNG.
pub fn save_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let mut rgba = Vec::with_capacity(w * h * 4);
    for p in &image.pixels {
        rgba.extend_from_slice(&p.to_srgba_unmultiplied());
    }
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&rgba))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
