//! `allot backup` and `allot restore` (issue #19): the store copied while `allot serve` goes on,
//! and put back. SQLite's online backup API copies one consistent state; a PostgreSQL store is
//! backed up by PostgreSQL's own tools, whose lines this says.

use std::path::PathBuf;

use allot_store::Location;
use clap::Args;

use crate::stored::StoreOpt;
use crate::Reported;

#[derive(Args)]
pub struct BackupArgs {
    /// The new file the store is copied to.
    file: PathBuf,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A backup made by `allot backup`.
    file: PathBuf,
    /// Replace the store if it exists (stop every `allot serve` using it first).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    store: StoreOpt,
}

fn fail(e: impl std::fmt::Display) -> Reported {
    eprintln!("error: {e}");
    Reported
}

/// What a PostgreSQL store's backup and restore are, said instead of made.
fn postgres_lines(url: &str) -> String {
    let shown = url.split_once('@').map_or(url.to_string(), |(_, host)| format!("postgres://…@{host}"));
    format!(
        "a PostgreSQL store ({shown}) is backed up by PostgreSQL's own tools, consistent while allot serves:\n  pg_dump --format=custom --file=allot.dump 'URL'\nand restored into an empty database:\n  pg_restore --no-owner --dbname='URL' allot.dump"
    )
}

pub fn backup(a: &BackupArgs) -> Result<(), Reported> {
    match Location::parse(a.store.db()) {
        Location::Sqlite(db) => {
            let started = std::time::Instant::now();
            let b = allot_store::sqlite::backup(&db, &a.file).map_err(fail)?;
            crate::emit(&format!(
                "backed up {} to {}: revision {}, {} bytes, in {:.1?}\nRestore with: allot restore {} --db FILE\n",
                db.display(),
                a.file.display(),
                b.revision,
                b.bytes,
                started.elapsed(),
                a.file.display()
            ))
        }
        Location::Postgres(url) => Err(fail(postgres_lines(&url))),
    }
}

pub fn restore(a: &RestoreArgs) -> Result<(), Reported> {
    match Location::parse(a.store.db()) {
        Location::Sqlite(db) => {
            let b = allot_store::sqlite::restore(&a.file, &db, a.replace).map_err(fail)?;
            crate::emit(&format!("restored {} as {}: revision {}, {} bytes\n", a.file.display(), db.display(), b.revision, b.bytes))
        }
        Location::Postgres(url) => Err(fail(postgres_lines(&url))),
    }
}
