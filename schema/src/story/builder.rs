//! The second pass: follows processes, attributes each event to a container, marks the
//! steps of each container's story, and records what changes its namespaces and mounts.

use rustc_hash::{FxHashMap, FxHashSet};

use super::chapters::{Mark, Marks};
use super::fact::{Addr, Ev, Fact, O_CREAT, O_PATH};
use super::keys::{ContainerKeys, Lookup};
use super::mountapi::MountFds;
use super::mounts::{MountOp, MountTable, join, normalize};
use super::noise::{self, Who};
use super::procs::{NS_BITS, NS_TYPES, NsSet, Procs, ns_file, ns_index_of_bit};
use super::pulls::Prescan;
use super::{Joined, Note, Story, StoryInput, roles};
use crate::entities::Component;

/// What the story keeps of one container.
#[derive(Clone, Debug, Default)]
pub struct ContainerStory {
    pub keys: ContainerKeys,
    /// Its namespaces' inodes (from its row, completed from its processes' events).
    pub ns: NsSet,
    /// When each of its own namespaces was made.
    pub ns_created: [Option<u64>; 8],
    /// Its mount table when its mount namespace was made (a copy of the host's).
    pub mount_base: Option<(u64, MountTable)>,
    /// Successful mount calls in its mount namespace, in order, targets resolved.
    pub mount_ops: Vec<(u64, MountOp)>,
    /// The root filesystem runc bound onto itself: what `.` is before `pivot_root`.
    pub(super) rootfs_hint: Option<String>,
    pub(super) pivoted: bool,
    /// Processes in its cgroup, from when.
    pub members: Vec<(u32, u64)>,
    pub cgroup_path: Option<String>,
    pub cgroup_created: Option<u64>,
    /// Times of the events attributed to it (for chapter counts).
    pub event_ts: Vec<u64>,
    pub marks: Marks,
    /// Its first process (the one that executed the entrypoint), when known.
    pub init_tgid: Option<u32>,
}

/// Files each unpacked layer wrote (by layer directory), for "which layer provides it".
pub type LayerFiles = FxHashMap<String, FxHashSet<String>>;

/// The second pass over the events; [`Story::derive`] drives it.
pub struct StoryBuilder {
    pub(super) lookup: Lookup,
    pub(super) input: StoryInput,
    pub(super) pre: Prescan,
    pub(super) procs: Procs,
    pub(super) containers: Vec<ContainerStory>,
    pub(super) host: NsSet,
    pub(super) host_mounts: MountTable,
    pub(super) mount_fds: MountFds,
    /// (ts, tgid, namespaces) whenever a process's namespaces changed.
    pub(super) ns_history: Vec<(u64, u32, NsSet)>,
    /// Layer directory each docker-untar process unpacks.
    pub(super) untars: FxHashMap<u32, String>,
    pub(super) layer_files: LayerFiles,
    pub(super) layer_file_count: usize,
    /// Times of the events of pulls that are for no container, per pull.
    pub(super) pull_ts: Vec<Vec<u64>>,
    /// Unpacks that are for no container.
    pub(super) untar_marks: Marks,
    /// `RunPodSandbox` calls: their span and the sandbox's container (the CNI plugins
    /// containerd runs meanwhile work for it).
    sandbox_calls: Vec<(u64, u64, usize)>,
}

const MAX_HISTORY: usize = 1 << 20;
const MAX_LAYER_FILES: usize = 1 << 18;

impl StoryBuilder {
    pub(super) fn new(input: StoryInput, pre: Prescan) -> Self {
        let lookup = Lookup::new(&input.containers, &input.images, &input.layers);
        let containers = input
            .containers
            .iter()
            .zip(&lookup.keys)
            .map(|(c, k)| {
                let mut ns = NsSet::default();
                for (i, t) in NS_TYPES.iter().enumerate() {
                    ns.0[i] = c.namespace(t).unwrap_or(0);
                }
                ContainerStory {
                    keys: k.clone(),
                    init_tgid: c.init_pid,
                    ns,
                    cgroup_path: c.cgroup_path.clone(),
                    ..ContainerStory::default()
                }
            })
            .collect();
        let mut procs = Procs::default();
        for p in &input.processes {
            // Processes that were there before the recording have no fork event.
            let e = procs.entry(p.pid, p.start_ts_nanos);
            e.ppid = p.ppid;
            e.role = p.component;
            e.argv.clone_from(&p.argv);
            e.ns.update(&NsSet::of_header(&p.ns));
            if e.container.is_none() {
                e.container = p.container_id.as_deref().and_then(|id| lookup.by_id(id));
            }
            if e.names.is_empty() && !p.comm.is_empty() {
                e.names.push((p.start_ts_nanos, p.comm.clone()));
            }
        }
        for (i, c) in input.containers.iter().enumerate() {
            if let Some(pid) = c.init_pid {
                let e = procs.entry(pid, 0);
                e.container.get_or_insert(i);
                let mut ns = NsSet::default();
                for (t, name) in NS_TYPES.iter().enumerate() {
                    ns.0[t] = c.namespace(name).unwrap_or(0);
                }
                e.ns.update(&ns);
            }
        }
        let host_mounts = input
            .host_mountinfo
            .as_deref()
            .map(MountTable::from_mountinfo)
            .filter(|t| t.entries().iter().any(|e| e.mount_point == "/"))
            .unwrap_or_else(MountTable::unknown_root);
        let pull_ts = vec![Vec::new(); pre.pulls.len()];
        Self {
            lookup,
            input,
            pre,
            procs,
            containers,
            host: NsSet::default(),
            host_mounts,
            mount_fds: MountFds::default(),
            ns_history: Vec::new(),
            untars: FxHashMap::default(),
            layer_files: FxHashMap::default(),
            layer_file_count: 0,
            pull_ts,
            untar_marks: Marks::default(),
            sandbox_calls: Vec::new(),
        }
    }

    /// Follows one event (in time order) and says what it is for the story.
    pub fn observe(&mut self, e: &Ev<'_>) -> Note {
        if e.tgid != 0 {
            self.follow_process(e);
        }
        let mut joins = None;
        let container = self.attribute(e, &mut joins);
        if let Some(c) = container {
            self.containers[c].event_ts.push(e.ts_nanos);
            self.mark(c, e);
        } else if let Some(k) = self
            .pre
            .pulls
            .iter()
            .position(|p| p.container.is_none() && p.carries(e))
        {
            self.pull_ts[k].push(e.ts_nanos);
        }
        self.follow_state(e, container, joins.as_ref());
        let (role, argv) = self
            .procs
            .get(e.tgid)
            .map_or((Component::Other, &[][..]), |p| (p.role, p.argv.as_slice()));
        let expected = noise::expected(e, &Who { role, argv });
        Note {
            container,
            expected,
            joins,
            role: (e.tgid != 0 || !e.comm.is_empty()).then_some(role),
        }
    }

    /// Names, roles, command lines, namespaces and descriptors of the process.
    fn follow_process(&mut self, e: &Ev<'_>) {
        let ts = e.ts_nanos;
        // File I/O summaries are written after the fact, with the name the process table
        // had: not a name the task had then.
        if e.pid == e.tgid && !matches!(e.fact, Fact::FileIo { .. }) {
            self.procs.saw_name(e.tgid, ts, e.comm);
        }
        let header = NsSet::of_header(&e.ns);
        let p = self.procs.entry(e.tgid, ts);
        if p.role == Component::Other
            && let Some(r) = roles::classify(e.comm)
        {
            p.role = r;
        }
        let role = p.role;
        if p.ns.update(&header) && self.ns_history.len() < MAX_HISTORY {
            self.ns_history.push((ts, e.tgid, p.ns));
        }
        if role == Component::Dockerd && self.host == NsSet::default() {
            self.host = header;
            // The initial namespaces have fixed inodes: when the daemon is in them, the
            // host's other namespaces are the initial ones too.
            if header.0[..3] == super::procs::INIT_INODES[..3] {
                self.host = NsSet(super::procs::INIT_INODES);
            }
        }
        match &e.fact {
            Fact::Fork {
                parent_tgid,
                child_tgid,
            } => {
                self.procs.fork(*parent_tgid, *child_tgid, ts);
                if let Some(c) = self.procs.get(*child_tgid)
                    && self.ns_history.len() < MAX_HISTORY
                {
                    self.ns_history.push((ts, *child_tgid, c.ns));
                }
                if let Some(dir) = self.untars.get(parent_tgid).cloned() {
                    self.untars.insert(*child_tgid, dir);
                }
            }
            Fact::Exec { filename, argv } => self.exec(e, filename, argv),
            Fact::Open { path, flags } => {
                if let Some(fd) = e
                    .result
                    .filter(|r| *r >= 0)
                    .and_then(|r| i32::try_from(r).ok())
                    && (flags & O_PATH != 0 || path.contains("/ns/") || path.contains("netns"))
                {
                    self.procs.set_fd(e.tgid, fd, path);
                }
                if flags & O_CREAT != 0 && e.ok() {
                    self.layer_file(e.tgid, path);
                }
            }
            Fact::Mkdir { path } if e.ok() => self.layer_file(e.tgid, path),
            Fact::Chdir { path } if e.ok() => {
                let p = self.procs.entry(e.tgid, ts);
                p.cwd = path.map(|path| {
                    if path.starts_with('/') {
                        normalize(path)
                    } else {
                        normalize(&join(p.cwd.as_deref().unwrap_or("/"), path))
                    }
                });
            }
            Fact::Exit { code } if e.pid == e.tgid => {
                if let Some(dir) = self.untars.get(&e.tgid)
                    && self
                        .procs
                        .get(e.tgid)
                        .is_some_and(|p| p.container.is_none())
                {
                    self.untar_marks.push(ts, Mark::UntarExit(dir.clone()));
                }
                self.procs.exit(e.tgid, ts, *code);
            }
            _ => {}
        }
    }

    fn exec(&mut self, e: &Ev<'_>, filename: &str, argv: &[&str]) {
        let in_container = self.lookup.by_cgroup(e.cgroup_id).is_some();
        let p = self.procs.entry(e.tgid, e.ts_nanos);
        p.role = roles::after_exec(p.role, e.comm, filename, in_container);
        p.argv = argv.iter().map(|a| (*a).to_owned()).collect();
        p.exec_ts = e.ts_nanos;
        let role = p.role;
        if roles::works_for_one_container(role, argv)
            && let Some(c) = self.lookup.in_argv(argv)
        {
            self.procs.entry(e.tgid, e.ts_nanos).container = Some(c);
        }
        // CNI plugins run by the runtime while it makes a pod's sandbox work for that pod
        // (what they are for is in their environment, CNI_CONTAINERID, which is not
        // recorded).
        if role == Component::Cni
            && let Some(&(_, _, c)) = self
                .sandbox_calls
                .iter()
                .rev()
                .find(|(from, to, _)| (*from..=*to).contains(&e.ts_nanos))
        {
            self.procs.entry(e.tgid, e.ts_nanos).container = Some(c);
        }
        if argv.first() == Some(&"docker-untar")
            && let Some(dir) = argv.get(2)
        {
            let dir = dir.trim_end_matches('/').to_owned();
            let c = self
                .lookup
                .container_using_layer(&dir, e.ts_nanos)
                .or_else(|| {
                    self.pre
                        .pulls
                        .iter()
                        .find(|p| (p.start_ts..=p.end_ts).contains(&e.ts_nanos))
                        .and_then(|p| p.container)
                });
            self.procs.entry(e.tgid, e.ts_nanos).container = c;
            if c.is_none() {
                self.untar_marks.push(e.ts_nanos, Mark::Untar(dir.clone()));
            }
            self.untars.insert(e.tgid, dir);
        }
        // iptables and docker-proxy name the container by its address, which the daemon
        // assigns while it wires the network: by the address, else by that time.
        if filename.ends_with("iptables") || role == Component::DockerProxy {
            let c = self
                .lookup
                .by_address_in(argv, e.ts_nanos)
                .or_else(|| self.pre.wiring_network(e.ts_nanos));
            if let Some(c) = c {
                self.procs.entry(e.tgid, e.ts_nanos).container = Some(c);
                if let Some(ip) = argv
                    .iter()
                    .position(|a| *a == "-container-ip")
                    .and_then(|i| argv.get(i + 1))
                {
                    self.lookup.keys[c]
                        .ip
                        .get_or_insert_with(|| (*ip).to_owned());
                }
            }
        }
    }

    fn layer_file(&mut self, tgid: u32, path: &str) {
        if self.layer_file_count >= MAX_LAYER_FILES || !path.starts_with('/') {
            return;
        }
        if let Some(dir) = self.untars.get(&tgid)
            && self
                .layer_files
                .entry(dir.clone())
                .or_default()
                .insert(normalize(path))
        {
            self.layer_file_count += 1;
        }
    }

    /// The container an event works for.
    fn attribute(&mut self, e: &Ev<'_>, joins: &mut Option<Joined>) -> Option<usize> {
        let l = &self.lookup;
        match &e.fact {
            Fact::Docker {
                event_type,
                action,
                actor_id,
                attributes,
            } => {
                if *event_type == "image" && *action == "pull" {
                    return self
                        .pre
                        .pulls
                        .iter()
                        .find(|p| p.end_ts == e.ts_nanos && p.reference == *actor_id)
                        .and_then(|p| p.container);
                }
                return l.by_id(actor_id).or_else(|| {
                    attributes
                        .iter()
                        .find(|(k, _)| *k == "container")
                        .and_then(|(_, v)| l.by_id(v))
                });
            }
            Fact::Sample { container_id } => return l.by_id(container_id),
            Fact::Cri {
                method,
                container_id,
                pod_id,
                duration_nanos,
                ..
            } => {
                let c = l.by_id(container_id).or_else(|| l.by_id(pod_id));
                // The CNI plugins run while a sandbox is made (ADD) and stopped (DEL).
                if let Some(c) = c.filter(|_| matches!(*method, "RunPodSandbox" | "StopPodSandbox"))
                    && self.sandbox_calls.len() < 1 << 16
                {
                    let end = e.ts_nanos.saturating_add(*duration_nanos);
                    self.sandbox_calls.push((e.ts_nanos, end, c));
                }
                return c;
            }
            Fact::Packet { .. } => {
                return self
                    .pre
                    .pulls
                    .iter()
                    .find(|p| p.carries(e))
                    .and_then(|p| p.container);
            }
            Fact::Cgroup {
                path,
                cgroup_id,
                v2,
                attach_pid,
            } => {
                let c = v2
                    .then(|| l.by_cgroup(*cgroup_id))
                    .flatten()
                    .or_else(|| l.in_path(path));
                if let (Some(c), Some(pid)) = (c, attach_pid) {
                    self.procs.entry(*pid, e.ts_nanos).container = Some(c);
                }
                if c.is_some() {
                    return c;
                }
            }
            _ => {}
        }
        if let Some(c) = l.by_cgroup(e.cgroup_id) {
            if e.tgid != 0 {
                self.procs
                    .entry(e.tgid, e.ts_nanos)
                    .container
                    .get_or_insert(c);
            }
            return Some(c);
        }
        if let Some(c) = self.procs.get(e.tgid).and_then(|p| p.container) {
            if let Fact::Setns { fd, nstype } = e.fact {
                *joins = Some(self.resolve_setns(e, fd, nstype));
            }
            return Some(c);
        }
        match &e.fact {
            Fact::Connect {
                addr: Addr::Inet(..),
            } => self
                .pre
                .pulls
                .iter()
                .find(|p| p.carries(e))
                .and_then(|p| p.container),
            Fact::Mount(m) => {
                let c = l.in_path(m.target).or_else(|| l.in_path(m.source));
                if c.is_none()
                    && let Some((pid, 2)) = ns_file(m.source, e.tgid)
                {
                    // dockerd binds a container's net namespace to /var/run/docker/netns/<id>.
                    let c = self.procs.get(pid).and_then(|p| p.container);
                    if let Some(c) = c {
                        self.lookup.learn_sandbox(m.target, c);
                    }
                    return c;
                }
                c
            }
            Fact::Umount { target, .. } => l.in_path(target).or_else(|| l.by_sandbox(target)),
            Fact::Open { path, .. }
            | Fact::Mkdir { path }
            | Fact::FileIo { path, .. }
            | Fact::Chroot { path } => l.in_path(path),
            Fact::PivotRoot { new_root, .. } => l.in_path(new_root),
            Fact::Setns { fd, nstype } => {
                let j = self.resolve_setns(e, *fd, *nstype);
                let c = j.container;
                *joins = Some(j);
                c
            }
            _ => None,
        }
    }

    /// What a `setns` joins: from the file its descriptor was opened from, else from the
    /// namespace the caller is in afterwards.
    fn resolve_setns(&self, e: &Ev<'_>, fd: i32, nstype: i32) -> Joined {
        let via = self.procs.fd_path(e.tgid, fd).map(str::to_owned);
        let mut ty = ns_index_of_bit(u64::from(nstype as u32));
        let mut inode = 0;
        let mut container = None;
        if let Some(path) = via.as_deref() {
            if let Some((pid, t)) = ns_file(path, e.tgid) {
                ty = Some(t);
                if let Some(p) = self.procs.get(pid) {
                    inode = if t == 0 && p.pid_for_children != 0 {
                        p.ns.get(0)
                    } else {
                        p.ns.get(t)
                    };
                    container = p.container;
                }
            } else if let Some(c) = self.lookup.by_sandbox(path) {
                ty = Some(2);
                container = Some(c);
            }
        }
        let t = ty.unwrap_or(2);
        if inode == 0 {
            inode = match container {
                Some(c) => self.containers[c].ns.get(t),
                // The caller's namespace afterwards (the header is read at the call's end).
                None if t == 1 || t == 2 => NsSet::of_header(&e.ns).get(t),
                None => 0,
            };
        }
        if container.is_none() && inode != 0 && inode != self.host.get(t) {
            container = self.containers.iter().position(|c| c.ns.get(t) == inode);
        }
        Joined {
            ns_type: NS_TYPES[t],
            inode,
            container,
            via,
        }
    }

    /// Namespaces and mounts that the event changes.
    fn follow_state(&mut self, e: &Ev<'_>, container: Option<usize>, joins: Option<&Joined>) {
        let ts = e.ts_nanos;
        if let Some(c) = container
            && e.tgid != 0
            && self.containers[c]
                .keys
                .cgroup_v2
                .is_some_and(|cg| cg == e.cgroup_id)
            && !self.containers[c].members.iter().any(|(t, _)| *t == e.tgid)
            && self.containers[c].members.len() < 1 << 16
        {
            self.containers[c].members.push((e.tgid, ts));
        }
        match &e.fact {
            Fact::NewNamespaces { flags, child_tgid } if e.ok() => {
                self.new_namespaces(e, *flags, *child_tgid, container);
            }
            Fact::Setns { .. } if e.ok() => {
                if let Some(j) = joins
                    && let Some(t) = super::procs::ns_index(j.ns_type)
                    && j.inode != 0
                {
                    let p = self.procs.entry(e.tgid, ts);
                    if t == 0 {
                        p.pid_for_children = j.inode;
                    } else {
                        p.ns.0[t] = j.inode;
                    }
                    if self.ns_history.len() < MAX_HISTORY {
                        self.ns_history.push((ts, e.tgid, p.ns));
                    }
                }
            }
            Fact::Cgroup {
                path,
                v2,
                attach_pid: None,
                ..
            } => {
                if let Some(c) = container {
                    let cs = &mut self.containers[c];
                    cs.cgroup_created.get_or_insert(ts);
                    if *v2 || cs.cgroup_path.is_none() {
                        cs.cgroup_path.get_or_insert_with(|| (*path).to_owned());
                    }
                }
            }
            Fact::Mount(_)
            | Fact::Umount { .. }
            | Fact::PivotRoot { .. }
            | Fact::Fsopen { .. }
            | Fact::Fsconfig { .. }
            | Fact::Fsmount { .. }
            | Fact::OpenTree { .. }
            | Fact::MoveMount { .. }
                if e.ok() =>
            {
                self.mount_call(e);
            }
            Fact::Exit { .. } if e.pid == e.tgid => {
                let _ = self.mount_fds.op(e, &|_, p| p.to_owned());
            }
            _ => {}
        }
    }

    fn new_namespaces(
        &mut self,
        e: &Ev<'_>,
        flags: u64,
        child: Option<u32>,
        container: Option<usize>,
    ) {
        let ts = e.ts_nanos;
        let Some(p) = self.procs.get(e.tgid) else {
            return;
        };
        let runtime =
            p.role == Component::Runc && p.argv.first().is_none_or(|a| a != "docker-untar");
        let Some(c) = container.filter(|_| runtime) else {
            return;
        };
        let header = NsSet::of_header(&e.ns);
        let host = self.host;
        let cs = &mut self.containers[c];
        for (t, bit) in NS_BITS.iter().enumerate() {
            if flags & bit == 0 {
                continue;
            }
            cs.ns_created[t].get_or_insert(ts);
            // The caller's own header shows its new mnt and net namespaces.
            if child.is_none()
                && (t == 1 || t == 2)
                && header.get(t) != 0
                && header.get(t) != host.get(t)
                && cs.ns.get(t) == 0
            {
                cs.ns.0[t] = header.get(t);
            }
        }
        if flags & NS_BITS[1] != 0 && cs.mount_base.is_none() {
            cs.mount_base = Some((ts, self.host_mounts.clone()));
        }
        let cns = cs.ns;
        let target = child.unwrap_or(e.tgid);
        let p = self.procs.entry(target, ts);
        for (t, bit) in NS_BITS.iter().enumerate() {
            if flags & bit != 0 && cns.get(t) != 0 {
                if t == 0 && child.is_none() {
                    p.pid_for_children = cns.get(0);
                } else {
                    p.ns.0[t] = cns.get(t);
                }
            }
        }
        if self.ns_history.len() < MAX_HISTORY {
            self.ns_history.push((ts, target, p.ns));
        }
    }

    /// The marks chapters are made from.
    fn mark(&mut self, c: usize, e: &Ev<'_>) {
        let (role, argv) = self
            .procs
            .get(e.tgid)
            .map_or((Component::Other, Vec::new()), |p| (p.role, p.argv.clone()));
        let init = self
            .procs
            .get(e.tgid)
            .is_some_and(|p| p.names.iter().any(|(_, n)| n == "runc:[2:INIT]"));
        let mark = Mark::of(
            e,
            role,
            &argv,
            init,
            &self.containers[c].keys,
            self.untars.get(&e.tgid),
        );
        let cs = &mut self.containers[c];
        match mark {
            // The container's first process is the one that executed the entrypoint
            // before anything joined it; a docker exec's process is named runc:[2:INIT]
            // too, but its exit stops nothing.
            Some(Mark::InitExec(_))
                if cs.init_tgid.is_none()
                    && cs
                        .marks
                        .first(|m| matches!(m, Mark::JoinCreate(_)))
                        .is_none() =>
            {
                cs.init_tgid = Some(e.tgid);
            }
            Some(Mark::InitExit(_)) if cs.init_tgid.is_some_and(|t| t != e.tgid) => return,
            _ => {}
        }
        if let Some(m) = mark {
            cs.marks.push(e.ts_nanos, m);
        }
    }

    /// The story, once every event was observed.
    pub fn finish(self) -> Story {
        let chapters = super::chapters::assemble(
            &self.input,
            &self.lookup,
            &self.pre,
            &self.containers,
            &self.pull_ts,
            &self.layer_files,
            &self.untar_marks,
        );
        Story {
            chapters,
            containers: self.containers,
            input: self.input,
            host: self.host,
            procs: self.procs,
            ns_by_tgid: self.ns_history.iter().fold(
                FxHashMap::default(),
                |mut m, (t, pid, set)| {
                    m.entry(*pid).or_insert_with(Vec::new).push((*t, *set));
                    m
                },
            ),
            layer_files: self.layer_files,
            layers: self.lookup.layers.clone(),
            untars: self.untars,
        }
    }
}
