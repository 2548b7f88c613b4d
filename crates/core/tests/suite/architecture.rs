//! ARCHITECTURE.md's "pure core", checked: the rules language, the engine, territory design and the message
//! catalogue depend on no IO crate and read no clock, no file and no network; and no crate depends on a
//! crate of a layer above it.

use std::path::Path;

const PURE: [&str; 4] = ["rules", "core", "territory", "i18n"];
const IO_CRATES: [&str; 13] = [
    "tokio",
    "rusqlite",
    "postgres",
    "axum",
    "hyper",
    "reqwest",
    "sqlx",
    "allot-io",
    "allot-store",
    "allot-app",
    "allot-render",
    "allot-server",
    "calamine",
];
const IMPURE_CALLS: [&str; 6] = ["Instant::now", "SystemTime::now", "std::fs::", "std::net::", "std::env::var", "thread_rng"];

fn crates() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_pure_crates_depend_on_no_io_crate() {
    for c in PURE {
        let manifest = std::fs::read_to_string(crates().join(c).join("Cargo.toml")).unwrap_or_default();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap_or("");
        for line in deps.lines() {
            let name = line.split(['=', ' ']).next().unwrap_or("").trim();
            assert!(!IO_CRATES.contains(&name), "crates/{c} depends on {name}");
        }
    }
}

#[test]
fn the_pure_crates_read_no_clock_file_or_network() {
    for c in PURE {
        let dir = crates().join(c).join("src");
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
                if e.is_dir() {
                    stack.push(e);
                } else if e.extension().is_some_and(|x| x == "rs") && !e.ends_with("tests.rs") {
                    // (unit tests in src/tests.rs may read their fixtures)
                    let text = std::fs::read_to_string(&e).unwrap_or_default();
                    for call in IMPURE_CALLS {
                        assert!(!text.contains(call), "{} calls {call}", e.display());
                    }
                }
            }
        }
    }
}

/// The layers of ARCHITECTURE.md, lowest first: a crate may depend only on crates of lower layers.
const LAYERS: [(&str, u8); 10] = [
    ("rules", 0),
    ("i18n", 0),
    ("territory", 0),
    ("core", 1),
    ("store", 1),
    ("io", 2),
    ("app", 3),
    ("render", 4),
    ("server", 5),
    ("cli", 6),
];

#[test]
fn no_crate_depends_on_a_crate_above_it() {
    let layer = |name: &str| LAYERS.iter().find(|(c, _)| *c == name).map(|l| l.1);
    for (c, mine) in LAYERS {
        let manifest = std::fs::read_to_string(crates().join(c).join("Cargo.toml")).unwrap_or_default();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap_or("");
        for line in deps.lines() {
            let Some(dep) = line.split(['=', ' ']).next().unwrap_or("").trim().strip_prefix("allot-") else { continue };
            let theirs = layer(dep).unwrap_or_else(|| panic!("crates/{c} depends on allot-{dep}, which no layer lists"));
            assert!(theirs < mine, "crates/{c} (layer {mine}) depends on allot-{dep} (layer {theirs})");
        }
    }
    // Every crate of the workspace has a layer.
    for e in std::fs::read_dir(crates()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()) {
        assert!(layer(&e).is_some(), "crates/{e} has no layer in ARCHITECTURE.md's drawing (and this test's)");
    }
}
