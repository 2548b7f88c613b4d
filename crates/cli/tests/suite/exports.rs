//! Files as CRMs and people export them, and outputs that go where the path says (issue #14).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::Command as Process;

use super::{allot, example};

/// Writes a folder with a scheme, clients and employees.
fn folder(scheme: &str, clients: &[u8], employees: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scheme.toml"), scheme).unwrap();
    std::fs::write(dir.path().join("clients.csv"), clients).unwrap();
    std::fs::write(dir.path().join("employees.csv"), employees).unwrap();
    dir
}

const ONE_RULE: &str = "[[rules]]\nid = \"moscow\"\nrole = \"sales\"\nwhen = 'region == \"RU-MOW\"'\nemployee = \"e1\"\n";

#[test]
fn output_to_a_device_a_fifo_or_through_a_symlink_writes_through_and_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &Path| allot().args(["assign", "-q", "--dir"]).arg(example("s3")).arg("-o").arg(out).output().unwrap();

    // A character device made for the test (root only: elsewhere the notice says it was skipped).
    let dev = dir.path().join("null");
    if Process::new("mknod").arg(&dev).args(["c", "1", "3"]).status().is_ok_and(|s| s.success()) {
        let out = run(&dev);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::symlink_metadata(&dev).unwrap().file_type().is_char_device(), "the device is still a device");
    } else {
        println!("SKIPPED: -o to a character device (mknod needs root here)");
    }
    // /dev/null itself, as the issue saw it replaced.
    if std::fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device()) {
        assert!(run(Path::new("/dev/null")).status.success());
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null is still a device");
    }

    // A named pipe is fed, not replaced: a reader on the other end gets the whole CSV.
    let fifo = dir.path().join("pipe");
    assert!(Process::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(&fifo).unwrap())
    };
    assert!(run(&fifo).status.success());
    let got = reader.join().unwrap();
    assert!(got.starts_with("client_id,role,employee_id,rule,reason\n") && got.lines().count() > 2000, "{} lines", got.lines().count());
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the pipe is still a pipe");

    // A symlink is followed: the target is written, the link stays a link.
    let target = dir.path().join("real.csv");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    assert!(run(&link).status.success());
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert!(std::fs::read_to_string(&target).unwrap().starts_with("client_id,"), "the target was written");
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640, "an existing file keeps its mode");

    // A new file follows the umask (it was always 0600).
    let fresh = dir.path().join("fresh.csv");
    let out = Process::new("sh")
        .arg("-c")
        .arg(format!("umask 027 && exec \"$0\" assign -q --dir {} -o {}", example("s3").display(), fresh.display()))
        .arg(assert_cmd::cargo::cargo_bin("allot"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o640);

    // `-` is standard output.
    let out = run(Path::new("-"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("client_id,role,employee_id,rule,reason\n"));
    // No temporary file is left behind anywhere.
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().ends_with(".tmp")).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_typo_in_the_scheme_is_reported_beside_a_bad_number_in_the_data() {
    let scheme = "[[rules]]\nid = \"moscow\"\nrole = \"sales\"\nwhen = 'regoin == \"RU-MOW\"'\nemployee = \"e1\"\n\n\
                  [[rules]]\nid = \"rest\"\nrole = \"sales\"\nemployee = \"e9\"\n";
    let dir = folder(scheme, "id;region;potential\r\nc1;RU-MOW;много\r\n".as_bytes(), "id,name\ne1,Иванов\n");
    let out = allot().args(["check", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clients.csv:2:3 (column `potential`)"), "the bad number, on its CRLF line: {err}");
    assert!(err.contains("unknown attribute `regoin`") && err.contains("did you mean `region`?"), "the typo: {err}");
    assert!(err.contains("unknown employee `e9`"), "the unknown employee: {err}");
    assert!(err.contains("3 error(s)"), "{err}");
}

#[test]
fn a_utf8_file_beside_a_cp1251_one_is_never_garbled() {
    let (clients, _, _) = encoding_rs::WINDOWS_1251.encode("id;region\nк1;Москва\n");
    let dir = folder(ONE_RULE, &clients, "id,name\ne1,Григорьева\n");
    for enc in ["cp1251", "clients=cp1251"] {
        let out = allot().args(["explain", "--encoding", enc, "--dir"]).arg(dir.path()).arg("к1").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{enc}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("e1 Григорьева") && text.contains("region=RU-MOW"), "{enc}: {text}");
    }
    // Naming the wrong file leaves the clients file UTF-8, which it is not: refused by line and byte.
    let out = allot().args(["check", "--encoding", "employees=cp1251", "--dir"]).arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("clients.csv:2:1") && err.contains("--encoding clients=cp1251"), "{err}");
}

#[test]
fn header_only_files_are_warned_about() {
    let dir = folder(ONE_RULE, b"id;region\r\n", "id,name\ne1,Иванов\n");
    let out = allot().args(["check", "--dir"]).arg(dir.path()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("warning: the file has a header but no clients"), "{text}");
}

#[test]
fn a_bitrix24_export_is_read_as_it_is_with_a_columns_section() {
    // The shipped example: `ID`, Russian headers with spaces, region names, `;`, CRLF, cp1251.
    let raw = std::fs::read(example("crm-export").join("clients.csv")).unwrap();
    assert!(raw.windows(2).any(|w| w == b"\r\n") && std::str::from_utf8(&raw).is_err(), "the example is CRLF and not UTF-8");
    let out = allot().args(["check", "--encoding", "clients=cp1251", "--dir"]).arg(example("crm-export")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sales      12 clients, 12 assigned (100.0%)"), "{text}");
    let out = allot().args(["assign", "-q", "--encoding", "clients=cp1251", "--dir"]).arg(example("crm-export")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8_lossy(&out.stdout);
    for row in [
        "101,sales,ivanov,by-territory",   // Республика Татарстан → RU-TA → Поволжье
        "102,sales,ivanov,by-territory",   // Татарстан
        "107,sales,ivanov,by-territory",   // Респ. Татарстан
        "103,sales,smirnova,by-territory", // г. Москва
        "108,sales,smirnova,by-territory", // СПб
        "105,sales,petrova,not-a-client",  // `Тип компании` != "Клиент"
        "106,sales,petrova,government",    // Государственный сектор → government
        "103,service,kuznetsov,service",   // ИТ → it
        "111,service,kuznetsov,service",   // Информационные технологии → it
    ] {
        assert!(csv.contains(row), "{row} missing:\n{csv}");
    }
    // `sync` reads the export by the folder's scheme before that scheme is active.
    let store = tempfile::tempdir().unwrap();
    let out = allot()
        .args(["sync", "--encoding", "clients=cp1251", "--date", "2026-01-01", "--dir"])
        .arg(example("crm-export"))
        .arg("--db")
        .arg(store.path().join("allot.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let book = allot().args(["book", "ivanov", "--at", "2026-06-01", "--db"]).arg(store.path().join("allot.db")).output().unwrap();
    let book = String::from_utf8_lossy(&book.stdout);
    assert!(book.contains("ООО «Ромашка»") && book.contains("RU-TA"), "{book}");
    // Without the section the export is refused with a located reason, not misread.
    let dir = tempfile::tempdir().unwrap();
    for f in ["clients.csv", "employees.csv"] {
        std::fs::copy(example("crm-export").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("scheme.toml"), ONE_RULE.replace("e1", "ivanov")).unwrap();
    let out = allot().args(["check", "--encoding", "cp1251", "--dir"]).arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown attribute `region`"), "{err}");
}

#[test]
fn the_store_lists_names_explains_stored_clients_and_knows_who_acted_without_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db");
    let run = |args: &[&str]| {
        let out = allot().args(args).arg("--db").arg(&db).env_remove("USER").env_remove("ALLOT_USER").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&["sync", "--dir", "examples/s3", "--date", "2026-01-01"]);
    // The book names each client and its region and potential.
    let book = run(&["book", "novikov", "--at", "2026-06-30"]);
    let header = book.lines().nth(1).unwrap_or_default();
    assert!(header.starts_with("client") && header.contains("name") && header.contains("region") && header.contains("potential"), "{book}");
    assert!(book.contains("c00001"), "{book}");
    let csv_path = dir.path().join("novikov.csv");
    run(&["book", "novikov", "--at", "2026-06-30", "-o", csv_path.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with("client_id,name,region,"), "{csv}");
    assert_eq!(csv.lines().count(), book.lines().count() - 1, "the CSV holds the same rows as the table");
    // Explain reads the store.
    let x = run(&["explain", "c00001", "--date", "2026-06-30"]);
    assert!(x.contains("role sales → novikov"), "{x}");
    // With neither $ALLOT_USER nor $USER, the history names the OS account, not "unknown".
    let history = run(&["history", "c00001"]);
    let me = String::from_utf8(Process::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert!(history.contains(me.trim()) && !history.contains("unknown"), "{history}");
}
