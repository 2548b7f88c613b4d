//! `allot user`: the people who sign in to the workspace (issue #16). Passwords are read from
//! standard input, never from the command line (where `ps` and the shell's history would show
//! them). The work is `allot_app::users`.

use std::io::BufRead;

use allot_app::users::{self, UserRequest};
use clap::Subcommand;

use crate::stored::StoreOpt;
use crate::Reported;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is the first line of standard input.
    #[command(after_help = "Example:\n  printf '%s\\n' \"$PASSWORD\" | allot user add ivanova --role manager --employee ivanova")]
    Add {
        /// The name they sign in with.
        login: String,
        /// admin (the head of sales: everything), manager (their teams' clients), employee (their own).
        #[arg(long)]
        role: String,
        /// The employee they are (a manager's or an employee's own clients and teams follow from it).
        #[arg(long, value_name = "ID")]
        employee: Option<String>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Every user: login, role, employee, who added them, their state. Never a password.
    List {
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Disable a user: they can no longer sign in, and their sessions end at once.
    Disable {
        login: String,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Set a user's password (the first line of standard input); their sessions end and a
    /// lock-out is lifted.
    Passwd {
        login: String,
        #[command(flatten)]
        store: StoreOpt,
    },
}

fn fail(e: impl std::fmt::Display) -> Reported {
    eprintln!("error: {e}");
    Reported
}

/// The first line of standard input, without its line break.
fn password() -> Result<String, Reported> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| fail(format!("cannot read the password from standard input: {e}")))?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(fail("give the password on standard input (e.g. printf '%s\\n' \"$PASSWORD\" | allot user …)"));
    }
    Ok(p)
}

pub fn user(c: &UserCommand) -> Result<(), Reported> {
    match c {
        UserCommand::Add { login, role, employee, store } => {
            let password = password()?;
            let mut s = store.open()?;
            let req = UserRequest { login, employee: employee.as_deref(), role, password: &password };
            users::add(s.as_mut(), &req, &store.actor()).map_err(fail)?;
            crate::emit(&format!("user `{login}` ({role}) added; they sign in to the workspace of `allot serve`\n"))
        }
        UserCommand::List { store } => {
            let mut s = store.open()?;
            let list = users::list(s.as_mut()).map_err(fail)?;
            let mut out = String::from("login                role      employee      added by / at                          state\n");
            for u in &list {
                let state = match (&u.disabled, &u.locked_until) {
                    (Some((by, at)), _) => format!("disabled by {by} at {at}"),
                    (None, Some(until)) => format!("locked until {until}"),
                    (None, None) => "active".into(),
                };
                out.push_str(&format!(
                    "{:<20} {:<9} {:<13} {:<38} {state}\n",
                    u.login,
                    u.role,
                    u.employee.as_deref().unwrap_or("-"),
                    format!("{} {}", u.created_by, u.created_at)
                ));
            }
            crate::emit(&out)
        }
        UserCommand::Disable { login, store } => {
            let mut s = store.open()?;
            users::disable(s.as_mut(), login, &store.actor()).map_err(fail)?;
            crate::emit(&format!("user `{login}` disabled; their sessions have ended\n"))
        }
        UserCommand::Passwd { login, store } => {
            let password = password()?;
            let mut s = store.open()?;
            users::set_password(s.as_mut(), login, &password, &store.actor()).map_err(fail)?;
            crate::emit(&format!("password of `{login}` set; their sessions have ended\n"))
        }
    }
}
