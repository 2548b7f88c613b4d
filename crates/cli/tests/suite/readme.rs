//! The README's commands, run as a new user runs them: every `sh` block, in order, in a fresh
//! folder, on whatever day the test runs (issue #14: the tour once failed on any day after its dates).

use std::path::Path;

use super::root;

/// The commands of the README's `sh` blocks, a continued line (`\`) joined to the next.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        out.push(std::mem::take(&mut pending));
    }
    out
}

/// A free port on the loopback (the README's 8080 may be taken on the machine).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn every_command_of_the_readme_runs_in_a_fresh_folder() {
    let commands = readme_commands();
    assert!(commands.len() > 25, "the README's blocks were not found: {commands:?}");
    let work = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("allot"), bin.path().join("allot")).unwrap();
        for d in ["examples", "data"] {
            std::os::unix::fs::symlink(root().join(d), work.path().join(d)).unwrap();
        }
    }
    let port = free_port();
    let have_curl = Path::new("/usr/bin/curl").exists() || Path::new("/bin/curl").exists();
    let mut script = String::from(
        "set -u\ntrap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT\n\
         wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }\n",
    );
    let mut ran = 0;
    for c in &commands {
        // Building and the test suite are what runs this test; an alias is what PATH does here.
        if c.starts_with("cargo build") || c.starts_with("cargo test") || c.starts_with("alias ") {
            continue;
        }
        let mut c = c.replace("cargo run --release -- ", "allot ").replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        if c.starts_with("curl ") {
            if !have_curl {
                println!("SKIPPED: {c} (curl is not installed)");
                continue;
            }
            // A 4xx or 5xx answer fails the step, as it would fail the user.
            c = c.replacen("curl ", "curl -sS --fail-with-body ", 1);
        }
        ran += 1;
        if let Some(bg) = c.strip_suffix('&') {
            script.push_str(&format!(
                "{bg} > serve.log 2>&1 &\nwait_port {port} || {{ echo 'FAILED: {bg} did not listen'; cat serve.log; exit 1; }}\n"
            ));
        } else {
            let quoted = c.replace('\'', "'\\''");
            script.push_str(&format!("echo '$ {quoted}'\n{c} || {{ rc=$?; echo \"FAILED (exit $rc): {quoted}\"; exit 1; }}\n"));
        }
    }
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default()))
        .env_remove("ALLOT_DB")
        .env("ALLOT_USER", "readme-test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(ran > 25, "{ran} commands ran");
    // What the tour promises, checked on what it made.
    for f in ["assignments.csv", "plan.json", "cover.json", "leaver.json", "book.csv", "credit-q1.csv", "q1.xlsx", "design.csv"] {
        assert!(work.path().join(f).is_file(), "{f} was not written:\n{stdout}");
    }
    let book = std::fs::read_to_string(work.path().join("book.csv")).unwrap();
    assert!(book.lines().count() > 2000, "the book on 2026-06-30 holds the example's clients: {} lines", book.lines().count());
    if have_curl {
        assert!(stdout.contains("\"new_client\":true"), "the lead was routed:\n{stdout}");
    }
}
