//! People told (issue #18 §4): the new owners and their team's manager get one letter each per
//! apply over SMTP — a real SMTP conversation with a mail server on loopback, written here from
//! RFC 5321 — in their own language; a person without an address is told through the portal
//! (`im.notify.personal.add`); a mail server that is down holds the letters until it is back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use allot_server::notify::{SmtpConfig, SmtpTls};
use allot_store::{Location, Subject};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{actor, blocking, Server, World};

/// A letter the mail server took: the envelope, who signed in (AUTH PLAIN's text) and the data.
#[derive(Debug, Clone)]
struct Letter {
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

/// A mail server on `addr`: takes every letter (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT).
async fn mail_server(addr: std::net::SocketAddr) -> (Arc<Mutex<Vec<Letter>>>, tokio::task::JoinHandle<()>) {
    let letters: Arc<Mutex<Vec<Letter>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let got = letters.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { break };
            let got = got.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 mail.test ESMTP ready\r\n").await;
                let mut letter = Letter { auth: None, from: String::new(), to: vec![], data: String::new() };
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-mail.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH PLAIN") {
                        letter.auth = line.split_whitespace().nth(2).map(str::to_string);
                        b"235 2.7.0 accepted\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        letter.from = line[10..].trim().to_string();
                        b"250 2.1.0 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        letter.to.push(line[8..].trim().to_string());
                        b"250 2.1.5 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
                            data.push('\n');
                        }
                        letter.data = data;
                        got.lock().unwrap().push(letter.clone());
                        letter.to.clear();
                        b"250 2.0.0 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                        break;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 ok\r\n"
                    } else {
                        b"502 5.5.2 not implemented\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (letters, task)
}

/// A letter's text: its body decoded (lettre sends UTF-8 text as base64 or quoted-printable).
fn body_of(data: &str) -> String {
    let (head, body) = data.split_once("\n\n").unwrap_or((data, ""));
    let head_l = head.to_ascii_lowercase();
    if head_l.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(base64_decode(&joined)).unwrap()
    } else if head_l.contains("quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_string()
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = A.iter().position(|a| *a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A letter's subject, unfolded and decoded from RFC 2047's `=?utf-8?b?…?=` words (the space
/// between two encoded words is not part of the text).
fn subject_of(data: &str) -> String {
    let mut header = String::new();
    let mut lines = data.lines().skip_while(|l| !l.to_ascii_lowercase().starts_with("subject:"));
    if let Some(first) = lines.next() {
        header.push_str(&first[8..]);
        for l in lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t')) {
            header.push_str(l);
        }
    }
    let mut out = String::new();
    let mut last_encoded = false;
    for w in header.split_whitespace() {
        let decoded = w.strip_prefix("=?utf-8?b?").or_else(|| w.strip_prefix("=?UTF-8?B?")).and_then(|r| r.strip_suffix("?="));
        match decoded {
            Some(b) => {
                if !last_encoded && !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&String::from_utf8(base64_decode(b)).unwrap());
                last_encoded = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
                last_encoded = false;
            }
        }
    }
    out
}

const SCHEME: &str = r#"
[notify]
managers = true

[[rules]]
id = "desk"
role = "sales"
employees = ["anna", "boris", "vera"]
strategy = "balance-count"
"#;

const STAFF: &str = "id,name,teams,email,language,crm_user\n\
    anna,Анна Смирнова,desk,anna@example.ru,ru,\n\
    boris,Boris Kuznetsov,desk,boris@example.ru,en,\n\
    vera,Вера Ушакова,desk,,ru,7\n\
    mgr,Мария Руководитель,desk,mgr@example.ru,,\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_owner_and_their_manager_get_one_letter_per_apply_in_their_language_even_after_the_mail_server_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("allot.db"));
    let (employees, clients) = (dir.path().join("employees.csv"), dir.path().join("clients.csv"));
    std::fs::write(&employees, STAFF).unwrap();
    let rows: String = (1..=90).map(|i| format!("k{i:03},ООО «Клиент {i}»\n")).collect();
    std::fs::write(&clients, format!("id,name\n{rows}")).unwrap();
    let l = location.clone();
    blocking(move || {
        let mut store = allot_store::open(&l).unwrap();
        let enc = allot_io::Encodings::default();
        allot_app::stored::import(store.as_mut(), Subject::Employee, &employees, &enc, &actor()).unwrap();
        allot_app::stored::import(store.as_mut(), Subject::Client, &clients, &enc, &actor()).unwrap();
        let req = allot_app::users::UserRequest {
            login: "mgr", employee: Some("mgr"), role: "manager", password: "пароль-на-весь-день"
        };
        allot_app::users::add(store.as_mut(), &req, &actor()).unwrap();
    })
    .await;
    // The portal, for the one without an address; the mail server's address, not listening yet.
    let (portal, stand) = allot_server::crm::standin::portal(0, 50.0, 20.0).await;
    let mail = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let w = World { location: location.clone(), _dir: dir, pg: None, tokens: Default::default() };
    let server = Server::start_with(&w, |c| {
        c.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: mail.port(),
            tls: SmtpTls::None,
            user: Some("allot-mail".into()),
            password: Some("mail-password".into()),
            from: "allot@example.ru".into(),
        });
        c.bitrix24 = Some(allot_server::crm::Bitrix24Config {
            webhook: portal.clone(),
            app_token: None,
            pace: allot_server::crm::bitrix24::Pace { per_second: 20.0, ..Default::default() },
        });
    })
    .await;
    let today = allot_app::clock::today();
    let revision = super::apply_today(&location, SCHEME).await;
    let notify = || {
        let l = location.clone();
        blocking(move || allot_store::open(&l).unwrap().webhooks().unwrap().into_iter().find(|h| h.kind == "notify").unwrap())
    };
    // The mail server is down: tried, nothing lost, nothing marked.
    let mut hook = notify().await;
    for _ in 0..200 {
        if hook.attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        hook = notify().await;
    }
    assert!(hook.attempts > 0 && hook.delivered < revision, "{hook:?}");
    // Up: every letter arrives (the operator's resend skips the back-off).
    let (letters, task) = mail_server(mail).await;
    for _ in 0..200 {
        let (l, id) = (location.clone(), hook.id);
        blocking(move || allot_store::open(&l).unwrap().retry_webhook(id).unwrap()).await;
        if notify().await.delivered == revision {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(notify().await.delivered, revision, "{:?}", notify().await);
    let letters = letters.lock().unwrap().clone();
    let to: Vec<String> = letters.iter().flat_map(|l| l.to.clone()).collect();
    assert_eq!(to, ["<anna@example.ru>", "<boris@example.ru>", "<mgr@example.ru>"], "one letter each (vera has no address)");
    assert!(letters.iter().all(|l| l.from == "<allot@example.ru>"));
    assert!(letters.iter().all(|l| l.auth.as_deref() == Some("AGFsbG90LW1haWwAbWFpbC1wYXNzd29yZA==")), "signed in as configured");
    let date = allot_i18n::format::date(allot_i18n::Lang::Ru, today);
    let (anna, boris, mgr) = (&letters[0], &letters[1], &letters[2]);
    assert_eq!(subject_of(&anna.data), "Вам передано 30 клиентов", "{}", anna.data);
    let text = body_of(&anna.data);
    assert!(text.starts_with("Здравствуйте, Анна Смирнова!") && text.contains("Теперь вы отвечаете за 30 клиентов:"), "{text}");
    assert!(
        text.contains(&format!("— продажи, с {date}: новый клиент, правило «desk»")) && text.contains("ООО «Клиент 1» (k001)"),
        "{text}"
    );
    let text = body_of(&boris.data);
    assert!(subject_of(&boris.data) == "30 clients are now yours" && text.starts_with("Hello, Boris Kuznetsov!"), "{text}");
    let text = body_of(&mgr.data);
    assert!(text.contains("Сотрудникам вашей команды передано 90 клиентов:") && text.contains("… и ещё 40"), "{text}");
    for name in ["Анна Смирнова: 30 клиентов\r\n", "Boris Kuznetsov: 30 клиентов\r\n", "Вера Ушакова: 30 клиентов\r\n"]
    {
        assert!(text.contains(name), "each one's count first: {text}");
    }
    assert!(text.contains("• Анна Смирнова: ООО «Клиент 1» (k001) — продажи"), "{text}");
    // Vera, without an address, is told by the portal: one notification, in Russian.
    let notified = stand.lock().unwrap().notified.clone();
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0].0, "7");
    assert!(
        notified[0].1.contains("Вам передано 30 клиентов") && notified[0].1.contains("Здравствуйте, Вера Ушакова!"),
        "{}",
        notified[0].1
    );
    task.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_left_with_nobody_longer_than_the_scheme_allows_is_told_to_the_manager_once() {
    // Issue #18 §4: everyone of the pool away, a routed lead waits; after `unassigned_after`
    // minutes the manager gets one letter naming it (and no second one at the next look).
    let scheme = format!("{}\n[notify]\nunassigned_after = 1\n", super::SCHEME);
    let w = blocking(move || super::world_of(None, &scheme)).await;
    let today = allot_app::clock::today();
    super::in_store(&w, move |store| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("managers.csv");
        std::fs::write(&file, "id,name,teams,email,language\nmgr,Мария Руководитель,desk,mgr@example.ru,ru\n").unwrap();
        allot_app::stored::import(store, Subject::Employee, &file, &allot_io::Encodings::default(), &actor()).unwrap();
        let req = allot_app::users::UserRequest {
            login: "mgr", employee: Some("mgr"), role: "manager", password: "пароль-на-весь-день"
        };
        allot_app::users::add(store, &req, &actor()).unwrap();
        for e in ["anna", "boris", "vera"] {
            allot_app::stored::absent(store, e, today, today, None, &actor()).unwrap();
        }
    })
    .await;
    let mail = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (letters, task) = mail_server(mail).await;
    let server = Server::start_with(&w, |c| {
        c.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: mail.port(),
            tls: SmtpTls::None,
            user: None,
            password: None,
            from: "allot@example.ru".into(),
        });
        c.alert_every = Duration::from_secs(1);
    })
    .await;
    let http = reqwest::Client::new();
    let lead = serde_json::json!({"id": "lead-waits", "attributes": {"source": "web", "name": "ООО «Ждёт»"}});
    let r = http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let routed = std::time::Instant::now();
    let mut told = None;
    for _ in 0..150 {
        if let Some(l) = letters.lock().unwrap().iter().find(|l| l.to == ["<mgr@example.ru>"]).cloned() {
            told = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let told = told.expect("the manager was told");
    assert!(routed.elapsed() >= Duration::from_secs(55), "not before the minute: {:?}", routed.elapsed());
    assert_eq!(subject_of(&told.data), "1 лид ждёт ответственного");
    let text = body_of(&told.data);
    assert!(text.contains("• ООО «Ждёт» (lead-waits) — нет ответственного: продажи; распределён"), "{text}");
    assert!(text.contains("дольше 1 мин"), "{text}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(letters.lock().unwrap().len(), 1, "told once");
    task.abort();
    server.stop().await;
}
