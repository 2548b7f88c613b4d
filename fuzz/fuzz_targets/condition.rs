//! Any text fed to the condition parser and type checker must give a tree or located errors,
//! never a panic, and every error span must lie inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        allot_rules::fuzzing::check_one(text);
    }
});
