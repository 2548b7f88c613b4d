//! Settings from the environment and a config file (issue #19): `allot serve` is configured
//! entirely by `ALLOT_*` variables, or by a file of the same `ALLOT_NAME=value` lines — the format
//! of systemd's `EnvironmentFile` and `docker run --env-file`, so one file serves all three —
//! given with `--config FILE` (or `ALLOT_CONFIG`). The command line wins over the environment,
//! the environment over the file. Secrets (a portal's webhook, a mail password) are read here too,
//! never from the command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::OnceLock;

use crate::Reported;

static FILE: OnceLock<BTreeMap<String, String>> = OnceLock::new();

/// A setting: the environment's, else the config file's; an empty value is none.
pub fn get(key: &str) -> Option<String> {
    let env = std::env::var(key).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    env.or_else(|| FILE.get().and_then(|f| f.get(key).cloned()).filter(|v| !v.is_empty()))
}

/// Reads a config file: `ALLOT_NAME=value` lines, `#` comments, blank lines; a value may be
/// quoted. A line of another shape is an error at its line.
fn read(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("{}:{}: expected ALLOT_NAME=value, found `{line}`", path.display(), i + 1));
        };
        let key = key.trim();
        if !key.starts_with("ALLOT_") || !key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!("{}:{}: `{key}` is not an allot setting (ALLOT_NAME in capitals)", path.display(), i + 1));
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// The command line with the config file taken in: `--config FILE` (or `ALLOT_CONFIG`) read, and
/// each of the subcommand's flags that has an `ALLOT_*` variable but is given neither on the
/// command line nor in the environment filled from the file.
pub fn args(command: &clap::Command) -> Result<Vec<OsString>, Reported> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let mut config = std::env::var_os("ALLOT_CONFIG").map(std::path::PathBuf::from);
    if let Some(i) = args.iter().position(|a| a == "--config") {
        if i + 1 >= args.len() {
            eprintln!("error: --config needs a file (ALLOT_NAME=value lines)");
            return Err(Reported);
        }
        config = Some(std::path::PathBuf::from(args.remove(i + 1)));
        args.remove(i);
    } else if let Some(i) = args.iter().position(|a| a.to_string_lossy().starts_with("--config=")) {
        config = Some(std::path::PathBuf::from(args.remove(i).to_string_lossy().trim_start_matches("--config=").to_string()));
    }
    let Some(path) = config else { return Ok(args) };
    let file = read(&path).map_err(|e| {
        eprintln!("error: {e}");
        Reported
    })?;
    // The subcommand named on the command line, and its flags that have a variable.
    let named = args.iter().skip(1).find_map(|a| command.find_subcommand(a.to_string_lossy().as_ref()).map(|c| c.get_name().to_string()));
    if let Some(sub) = named.and_then(|n| command.find_subcommand(&n)) {
        for arg in sub.get_arguments() {
            let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
            let key = env.to_string_lossy().to_string();
            let flag = format!("--{long}");
            let given = args.iter().any(|a| *a == *flag || a.to_string_lossy().starts_with(&format!("{flag}=")));
            if given || std::env::var_os(&key).is_some() {
                continue;
            }
            if let Some(value) = file.get(&key) {
                args.push(flag.into());
                args.push(value.into());
            }
        }
    }
    let _ = FILE.set(file);
    Ok(args)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_config_file_is_read_and_a_bad_line_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allot.env");
        std::fs::write(
            &path,
            "# the server\nALLOT_LISTEN=0.0.0.0:8080\nexport ALLOT_DB=\"/var/lib/allot/allot.db\"\n\nALLOT_SMTP_FROM='allot@example.ru'\n",
        )
        .unwrap();
        let got = super::read(&path).unwrap();
        assert_eq!(got["ALLOT_LISTEN"], "0.0.0.0:8080");
        assert_eq!(got["ALLOT_DB"], "/var/lib/allot/allot.db");
        assert_eq!(got["ALLOT_SMTP_FROM"], "allot@example.ru");
        std::fs::write(&path, "ALLOT_LISTEN=0.0.0.0:8080\nlisten 8080\n").unwrap();
        assert!(super::read(&path).unwrap_err().ends_with("allot.env:2: expected ALLOT_NAME=value, found `listen 8080`"));
        std::fs::write(&path, "PATH=/bin\n").unwrap();
        assert!(super::read(&path).unwrap_err().contains("allot.env:1: `PATH` is not an allot setting"));
    }
}
