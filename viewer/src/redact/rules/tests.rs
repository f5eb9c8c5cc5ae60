use super::*;

fn rules() -> Rules {
    Rules::new(&[])
}

#[test]
fn secret_flags_and_assignments() {
    let mut r = rules();
    let argv: Vec<String> = [
        "mysql",
        "--password",
        "hunter2",
        "-u",
        "alice",
        "--token=abc",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        r.argv(&argv),
        [
            "mysql",
            "--password",
            REDACTED,
            "-u",
            "user-1",
            "--token=REDACTED"
        ]
    );
    assert_eq!(
        r.text("API_TOKEN=s3cr3t-value run"),
        "API_TOKEN=REDACTED run"
    );
    assert_eq!(r.text("env DB_PASSWORD=x AWS_SECRET_ACCESS_KEY=y"), {
        "env DB_PASSWORD=REDACTED AWS_SECRET_ACCESS_KEY=REDACTED"
    });
    assert_eq!(
        r.text("MY_KEY=k1 KEYBOARD=us"),
        "MY_KEY=REDACTED KEYBOARD=us"
    );
    assert_eq!(
        r.text("sh -c 'mysql --password hunter2 db'"),
        "sh -c 'mysql --password REDACTED db'"
    );
    assert_eq!(
        r.text("curl -H 'Authorization: Bearer eyJhbGciOi'"),
        "curl -H 'Authorization: Bearer REDACTED'"
    );
    assert_eq!(
        r.text("https://bob:pa55word@registry.example.com/v2/"),
        "https://bob:REDACTED@host-1/v2/"
    );
    // Not secrets.
    for s in [
        "--password-stdin",
        "PWD=/root",
        "tokenizer",
        "O_RDONLY|O_CLOEXEC",
    ] {
        assert_eq!(r.text(s), s);
    }
}

#[test]
fn literals_found_are_replaced_everywhere_after_freeze() {
    let mut r = rules();
    r.text("--password=correct-horse-battery");
    r.hostname("build-box");
    r.freeze();
    assert_eq!(
        r.text("echo correct-horse-battery on build-box; build-boxes"),
        "echo REDACTED on host-1; build-boxes"
    );
    assert_eq!(
        r.counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect::<Vec<_>>(),
        [(Category::Secrets, 1), (Category::Hostnames, 1)]
    );
}

#[test]
fn addresses_map_stably_and_loopback_stays() {
    let mut r = rules();
    assert_eq!(
        r.text("-host-ip 127.0.0.1 -container-ip 172.17.0.2 to 172.17.0.2:80"),
        "-host-ip 127.0.0.1 -container-ip 198.18.0.1 to 198.18.0.1:80"
    );
    assert_eq!(
        r.text("0.0.0.0 255.255.255.255 ::1 [::]:80"),
        "0.0.0.0 255.255.255.255 ::1 [::]:80"
    );
    assert_eq!(
        r.text("fe80::42:acff:fe11:2 at 16:02:28.23"),
        "2001:db8::1 at 16:02:28.23"
    );
    assert_eq!(r.text("02:42:ac:11:00:02"), "00:00:5e:00:53:00");
    assert_eq!(
        r.ip("10.0.0.9".parse().unwrap()),
        "198.18.0.2".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        r.ip("172.17.0.2".parse().unwrap()),
        "198.18.0.1".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn users_and_hosts() {
    let mut r = rules();
    assert_eq!(
        r.text("/home/alice/.docker/config.json"),
        "/home/user-1/.docker/config.json"
    );
    assert_eq!(r.user("1000:1000"), "1000:1000");
    assert_eq!(r.user("root"), "root");
    assert_eq!(r.user("nginx:nginx"), "user-2:nginx");
    assert_eq!(
        r.image_ref("registry.corp.example:5000/team/app:1.0"),
        "host-1:5000/team/app:1.0"
    );
    assert_eq!(
        r.image_ref("localhost:5000/nginx:tag"),
        "localhost:5000/nginx:tag"
    );
    assert_eq!(
        r.image_ref("docker.io/library/nginx"),
        "docker.io/library/nginx"
    );
    assert_eq!(r.image_ref("nginx:latest"), "nginx:latest");
    assert_eq!(
        r.text("docker pull registry.corp.example/team/app:1 from nginx.conf"),
        "docker pull host-1/team/app:1 from nginx.conf"
    );
    assert_eq!(
        r.text("docker.io/library/busybox"),
        "docker.io/library/busybox"
    );
    // Pseudonyms are not replaced again.
    assert_eq!(r.text("/home/user-1/x"), "/home/user-1/x");
}

#[test]
fn kept_categories_are_left_alone() {
    let mut r = Rules::new(&[Category::Addresses, Category::Secrets]);
    assert_eq!(r.text("10.1.2.3 --password=x"), "10.1.2.3 --password=x");
    assert_eq!(r.env_entry("A=b"), "A=REDACTED");
    let mut r = Rules::new(&[Category::Env]);
    assert_eq!(r.env_entry("PATH=/bin"), "PATH=/bin");
    assert_eq!(r.env_entry("GH_TOKEN=abc"), "GH_TOKEN=REDACTED");
}

#[test]
fn categories_round_trip_their_names() {
    for c in Category::ALL {
        assert_eq!(Category::from_name(c.name()), Some(c));
    }
}
