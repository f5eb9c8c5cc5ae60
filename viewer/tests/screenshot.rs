//! `beefine-view --screenshot`: a real window under Xvfb, saved as PNG.

use std::process::Command;

#[test]
#[ignore = "needs xvfb-run and Mesa (Debian: xvfb xauth libgl1-mesa-dri); run with --ignored"]
fn a_screenshot_of_a_session_is_a_real_picture() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("sample.beefine");
    beefine_testdata::write_sample_session(&session).unwrap();
    let out = dir.path().join("window.png");
    let run = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x900x24"])
        .arg(env!("CARGO_BIN_EXE_beefine-view"))
        .arg("--screenshot")
        .arg(&out)
        .arg(&session)
        .output()
        .unwrap_or_else(|e| {
            panic!("xvfb-run is needed for this test (apt-get install xvfb xauth): {e}")
        });
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1600, 900));
    // A drawn window, not a blank one: many colours, and the lanes' colours among them.
    let pixels: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(4).collect();
    assert!(pixels.len() > 200, "{} distinct colours", pixels.len());
}

#[test]
#[ignore = "needs xvfb-run and Mesa (Debian: xvfb xauth libgl1-mesa-dri); run with --ignored"]
fn a_screenshot_of_two_sessions_compared() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions");
    let out = dir.path().join("compare.png");
    let run = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x900x24"])
        .arg(env!("CARGO_BIN_EXE_beefine-view"))
        .arg("--screenshot")
        .arg(&out)
        .arg(fixtures.join("run-busybox.beefine"))
        .arg("--compare")
        .arg(fixtures.join("exec-busybox.beefine"))
        .output()
        .unwrap_or_else(|e| {
            panic!("xvfb-run is needed for this test (apt-get install xvfb xauth): {e}")
        });
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1600, 900));
    // A drawn comparison, not a blank window (egui_kittest checks what is in it).
    let pixels: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(4).collect();
    assert!(pixels.len() > 200, "{} distinct colours", pixels.len());
}
