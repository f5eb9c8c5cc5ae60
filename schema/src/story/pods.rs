//! A Kubernetes pod's chapters: its sandbox (the `RunPodSandbox` call and the CNI plugins
//! that network it), and its containers joining the sandbox's namespaces.

use super::chapters::{Draft, Mark, Marks, draft};
use super::keys::ContainerKeys;
use super::{ChapterKind, StoryInput};

/// A pod's sandbox: the `RunPodSandbox` call and the CNI plugins that network it.
pub(super) fn pod_drafts(k: &ContainerKeys, m: &Marks, input: &StoryInput, out: &mut Vec<Draft>) {
    if !k.is_sandbox() {
        return;
    }
    let pod = input
        .pods
        .iter()
        .find(|p| Some(&p.pod_id) == k.pod_id.as_ref());
    let name = pod.map_or_else(
        || k.label().to_owned(),
        |p| format!("{}/{}", p.namespace, p.name),
    );
    let call = m.0.iter().find_map(|(t, x)| match x {
        Mark::Cri { method, end } if method == "RunPodSandbox" => Some((*t, *end)),
        _ => None,
    });
    if let Some((start, end)) = call {
        let ms = end.saturating_sub(start) / 1_000_000;
        out.push(draft(
            ChapterKind::Sandbox,
            start,
            Some(end),
            format!("Sandbox: the pod {name} asked for (RunPodSandbox, {ms} ms)"),
            "The kubelet's first call for a pod: containerd makes a network namespace, has CNI wire it, then runs the pause container in it as the pod's sandbox.\nThe pause process only sleeps and reaps: it exists to hold the pod's net, ipc and uts namespaces, which the pod's containers join.".to_owned(),
        ));
    }
    // The plugins that set the network up (those of the sandbox's stop take it down).
    let setup = |t: u64| call.is_none_or(|(from, to)| (from..=to).contains(&t));
    let mut plugins: Vec<&str> = Vec::new();
    for (t, x) in &m.0 {
        if let Mark::Cni(p) = x
            && setup(*t)
            && !plugins.contains(&p.as_str())
            && plugins.len() < 16
        {
            plugins.push(p);
        }
    }
    let cni = |x: &Mark| matches!(x, Mark::Cni(_) | Mark::CniExit);
    let start =
        m.0.iter()
            .find(|(t, x)| cni(x) && setup(*t))
            .map(|(t, _)| *t);
    if let Some(start) = start {
        let end =
            m.0.iter()
                .rev()
                .find(|(t, x)| cni(x) && setup(*t))
                .map(|(t, _)| *t);
        let ip = pod
            .and_then(|p| p.ip.as_deref())
            .map(|ip| format!(" the address {ip}"))
            .unwrap_or_default();
        out.push(draft(
            ChapterKind::Cni,
            start,
            end,
            format!("CNI: {} give the pod{ip}", plugins.join(", ")),
            "containerd executes the CNI plugins its configuration names, each with the sandbox's network namespace in its environment: bridge makes a veth pair, puts one end in the pod and attaches the other to the host's bridge; host-local allocates the address.\nThe plugins are programs on the host, run once per pod: every container of the pod then shares that one interface and address.".to_owned(),
        ));
    }
}

/// The namespaces chapter of a pod's app container: the sandbox's namespaces joined, the
/// rest new.
pub(super) fn namespaces_draft(start: u64, flags: u64, made: &[&str], shared: &[&str]) -> Draft {
    let joined: Vec<&str> = ["net", "ipc", "uts"]
        .into_iter()
        .filter(|t| shared.contains(t))
        .collect();
    draft(
        ChapterKind::Namespaces,
        start,
        None,
        format!(
            "Namespaces: new {}; the pod's {} joined",
            made.join(", "),
            joined.join(", ")
        ),
        format!(
            "runc:[1:CHILD] enters the sandbox's {} namespaces (setns on the pause process's /proc/PID/ns files) and unshares({}) for the rest.\nSo the pod's containers share one network interface, localhost and IPC, but each has its own filesystem and process tree.",
            joined.join(", "),
            crate::names::flag_names(flags, crate::names::CLONE_FLAGS)
        ),
    )
}
