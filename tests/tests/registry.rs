//! The local registry and the fixture images: what every other privileged test builds on.
//! Needs dockerd and the registry on 127.0.0.1:5000 (`cargo xtask provision`).

use std::time::Duration;

use beefine_tests::{
    Container, busybox_image, docker, docker_ok, free_port, http_get_when_up, nginx_image,
    registry_manifest, require_docker, require_image,
};

/// Removes the nginx image locally, pulls it back from the registry, runs it with a port
/// published on 127.0.0.1 and reads the fixture page through loopback.
#[test]
fn nginx_pulled_from_the_registry_serves_the_fixture_page() {
    require_docker();
    let image = nginx_image();
    require_image(&image);
    let (_, digest) = registry_manifest(&image);

    if docker_ok(&["image", "inspect", &image]) {
        docker(&["image", "rm", &image]);
    }
    assert!(
        !docker_ok(&["image", "inspect", &image]),
        "{image} is still present locally after `docker image rm`"
    );
    docker(&["pull", &image]);
    let repo_digests = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &image,
    ]);
    let (name, _) = image.rsplit_once(':').unwrap();
    assert!(
        repo_digests.contains(&format!("{name}@{digest}")),
        "pulled {image} has digests {repo_digests}, the registry's is {digest}"
    );

    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let container = Container::run(&["-p", &publish, &image]);
    let bound = docker(&["port", &container.id, "80/tcp"]);
    assert_eq!(
        bound.trim(),
        format!("127.0.0.1:{port}"),
        "the port must be published on loopback only"
    );

    let page = http_get_when_up(port, "/", Duration::from_secs(30)).unwrap_or_else(|e| {
        panic!(
            "no page from {image} on 127.0.0.1:{port}: {e}\ncontainer log:\n{}",
            docker(&["logs", &container.id])
        )
    });
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("Beefine fixture"),
        "the page is not the fixture's: {}",
        page.text()
    );

    let id = container.id.clone();
    drop(container);
    assert!(
        !docker_ok(&["container", "inspect", &id]),
        "container {id} is still there after removal"
    );
}

/// The number of layers in the registry's manifest and in the pulled image.
fn layers(image: &str) -> (usize, usize) {
    let (manifest, _) = registry_manifest(image);
    let in_registry = manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest of {image} has no layers: {manifest}"))
        .len();
    if !docker_ok(&["image", "inspect", image]) {
        docker(&["pull", image]);
    }
    let local: serde_json::Value = serde_json::from_str(&docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        image,
    ]))
    .expect("docker prints JSON");
    let local = local.as_array().map_or(0, Vec::len);
    (in_registry, local)
}

#[test]
fn busybox_has_one_layer_and_nginx_at_least_three() {
    require_docker();
    let (busybox, nginx) = (busybox_image(), nginx_image());
    require_image(&busybox);
    require_image(&nginx);

    let (registry, local) = layers(&busybox);
    assert_eq!((registry, local), (1, 1), "layers of {busybox}");

    let (registry, local) = layers(&nginx);
    assert!(
        registry >= 3,
        "{nginx} has {registry} layers in the registry"
    );
    assert_eq!(registry, local, "layers of {nginx}: registry vs pulled");

    // nginx is built FROM busybox: its first layer is busybox's only one.
    let first = |image: &str| {
        let (m, _) = registry_manifest(image);
        m["layers"][0]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(first(&busybox), first(&nginx));

    let hello = docker(&[
        "run",
        "--rm",
        &busybox,
        "sh",
        "-c",
        "echo hello from busybox",
    ]);
    assert_eq!(hello.trim(), "hello from busybox");
}
