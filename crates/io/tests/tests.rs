//! Reading what users really have, and the messages they get when it is wrong.

#![allow(clippy::unwrap_used)] // tests stop at the first surprise

use std::collections::BTreeMap;
use std::path::Path;

use allot_core::data::Data;
use allot_core::diag::render_all;
use allot_io::sheet::{decode, read_csv_text, read_jsonl_text, Encoding};
use allot_io::tables::{load_clients, load_employees, parse_number};
use allot_io::values::ValueMaps;
use allot_io::{read_table, SchemeFile};
use allot_rules::Type;

/// Loads clients from CSV text; the table as `id: col=value, ...` lines, or the rendered errors.
fn check_csv(text: &str) -> String {
    let sheet = match read_csv_text(text, "clients.csv") {
        Ok(s) => s,
        Err(e) => return render_all(&e),
    };
    let mut data = Data::default();
    match load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut data) {
        Ok(_) => dump(&data),
        Err(e) => render_all(&e),
    }
}

fn dump(data: &Data) -> String {
    let t = &data.clients;
    let mut out = String::new();
    for r in 0..t.len() as u32 {
        let cells: Vec<String> = t
            .columns()
            .enumerate()
            .map(|(i, (name, ty))| format!("{name}:{}={}", ty.name(), t.display(i, r, data).unwrap_or_else(|| "<missing>".into())))
            .collect();
        out.push_str(&format!("{}: {}\n", t.id(r), cells.join(", ")));
    }
    out
}

#[test]
fn comma_and_semicolon_files_read_the_same() {
    let comma = check_csv("id,region,potential\nc1,RU-MOW,1500\nc2,RU-TA,\n");
    let semi = check_csv("id;region;potential\nc1;RU-MOW;1500\nc2;RU-TA;\n");
    assert_eq!(comma, semi);
    insta::assert_snapshot!(comma, @r"
    c1: region:text=RU-MOW, potential:number=1500
    c2: region:text=RU-TA, potential:number=<missing>
    ");
}

#[test]
fn excel_russian_numbers_bom_quotes_line_breaks_and_cyrillic() {
    let text = "\u{feff}id;название;регион;potential;products\n\
                к1;\"ООО «Ромашка»; филиал\";Москва;\"1 234,50\";компьютеры;принтеры\n\
                к2;\"Две\nстроки\";Казань;99,9;серверы|сети\n";
    // The products cell of к1 is not quoted, so its `;` splits it: a user error, caught.
    let out = check_csv(text);
    assert!(out.contains("row has 6 fields but the header has 5"), "{out}");
    let text = "\u{feff}id;название;регион;potential;products\n\
                к1;\"ООО «Ромашка»; филиал\";Москва;\"1 234,50\";\"компьютеры;принтеры\"\n\
                к2;\"Две\nстроки\";Казань;99,9;серверы|сети\n";
    insta::assert_snapshot!(check_csv(text), @r"
    к1: название:text=ООО «Ромашка»; филиал, регион:text=Москва, potential:number=1234.5, products:list=компьютеры;принтеры
    к2: название:text=Две
    строки, регион:text=Казань, potential:number=99.9, products:list=серверы;сети
    ");
}

#[test]
fn windows_1251_files_read_with_the_encoding_flag_and_are_refused_without_it() {
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("id;регион\nк1;Москва\n");
    let err = decode(&bytes, "1c-export.csv", Encoding::Utf8).unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r"
    error: the file is not valid UTF-8
      --> 1c-export.csv:1:4
      = help: files exported from 1C or old Excel are often Windows-1251: add `--encoding cp1251` (or `--encoding 1c-export=cp1251` for this file alone)
      = expected UTF-8 text, found byte 0xF0 at byte offset 3
    ");
    let text = decode(&bytes, "1c-export.csv", Encoding::Cp1251).unwrap();
    assert_eq!(check_csv(&text), "к1: регион:text=Москва\n");
}

#[test]
fn types_are_inferred_from_values_when_not_known_by_name() {
    let out = check_csv("id,since,is_new,score,note\nc1,2024-01-31,да,7,x\nc2,01.02.2024,нет,-1.5,\n");
    insta::assert_snapshot!(out, @r"
    c1: since:date=2024-01-31, is_new:bool=true, score:number=7, note:text=x
    c2: since:date=2024-02-01, is_new:bool=false, score:number=-1.5, note:text=<missing>
    ");
}

#[test]
fn every_bad_cell_is_reported_with_line_and_column_in_one_run() {
    let out = check_csv("id,region,potential\nc1,RU-MOW,много\nc2,RU-TA,10\nc2,RU-SPE,5\n,RU-SPE,5\nc5,RU-TA,1e999\n");
    insta::assert_snapshot!(out, @r#"
    error: `potential` must be number
      --> clients.csv:2:3 (column `potential`)
      = expected a number such as 1500 or 1 500,50, found text "много"

    error: id `c2` appears twice
      --> clients.csv:4:1 (column `id`)
      = expected a unique id in every row, found the same id on line 3

    error: the row has no id
      --> clients.csv:5:1 (column `id`)
      = expected a unique id in every row

    error: `potential` must be number
      --> clients.csv:6:3 (column `potential`)
      = expected a number such as 1500 or 1 500,50, found "1e999", too large: numbers must be below 10^15
    "#);
}

#[test]
fn a_ragged_row_and_a_missing_id_column_are_explained() {
    insta::assert_snapshot!(check_csv("id,region\nc1,RU-MOW,extra\n"), @r"
    error: row has 3 fields but the header has 2
      --> clients.csv:2:3
      = help: a field holding the delimiter or a line break must be in double quotes
      = expected 2 fields separated by `,`, found 3 fields
    ");
    insta::assert_snapshot!(check_csv("код,region\nc1,RU-MOW\n"), @r"
    error: the file has no `id` column
      --> clients.csv:1:1
      = expected a header row with an `id` column (the key of each row), found columns код, region
    ");
}

#[test]
fn numbers_are_read_as_people_type_them() {
    for (s, want) in [
        ("1500", Some(1500.0)),
        ("1 500,50", Some(1500.5)),
        ("1,500.50", Some(1500.5)),
        ("1\u{a0}000", Some(1000.0)),
        ("-3,5", Some(-3.5)),
        ("1,2,3", None),
        ("12abc", None),
        ("", None),
    ] {
        assert_eq!(parse_number(s), want, "{s:?}");
    }
}

#[test]
fn json_lines_keep_their_types() {
    let s = read_jsonl_text("{\"id\":\"c1\",\"potential\":10,\"vip\":true,\"products\":[\"a\",\"b\"]}\n\n{\"id\":\"c2\",\"region\":\"RU-TA\",\"potential\":null}\n", "c.jsonl").unwrap();
    let mut data = Data::default();
    load_clients(&s, &BTreeMap::new(), &ValueMaps::builtin(), &mut data).unwrap();
    insta::assert_snapshot!(dump(&data), @r"
    c1: potential:number=10, vip:bool=true, products:list=a;b, region:text=<missing>
    c2: potential:number=<missing>, vip:bool=<missing>, products:list=<missing>, region:text=RU-TA
    ");
    let err = read_jsonl_text("{\"id\":\"c1\"}\n[1,2]\n{\"id\": }\n", "c.jsonl").err().unwrap();
    insta::assert_snapshot!(render_all(&err), @r#"
    error: each line must be a JSON object
      --> c.jsonl:2:1
      = expected an object such as {"id": "c1", "region": "RU-MOW"}, found a list

    error: invalid JSON: expected value at line 1 column 8
      --> c.jsonl:3:8
    "#);
}

#[test]
fn xlsx_first_sheet_is_read_with_numbers_dates_and_cyrillic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clients.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["id", "регион", "potential", "since"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 1001.0).unwrap(); // ids typed as numbers in Excel
    ws.write_string(1, 1, "Москва").unwrap();
    ws.write_number(1, 2, 1500.5).unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 3, 1).unwrap();
    ws.write_datetime_with_format(1, 3, &date, &rust_xlsxwriter::Format::new().set_num_format("dd.mm.yyyy")).unwrap();
    ws.write_string(2, 0, "к2").unwrap();
    ws.write_string(2, 2, "не число").unwrap();
    wb.save(&path).unwrap();
    let sheet = read_table(&path, Encoding::Utf8).unwrap();
    let mut data = Data::default();
    let err = load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut data).unwrap_err();
    let rendered = render_all(&err).replace(&path.display().to_string(), "clients.xlsx");
    insta::assert_snapshot!(rendered, @r#"
    error: `potential` must be number
      --> clients.xlsx:3:3 (column `potential`)
      = expected a number such as 1500 or 1 500,50, found text "не число"
    "#);
    let mut declared = BTreeMap::new();
    declared.insert("potential".to_string(), Type::Text);
    let mut data = Data::default();
    load_clients(&sheet, &declared, &ValueMaps::builtin(), &mut data).unwrap();
    insta::assert_snapshot!(dump(&data), @r"
    1001: регион:text=Москва, potential:text=1500.5, since:date=2024-03-01
    к2: регион:text=<missing>, potential:text=не число, since:date=<missing>
    ");
}

#[test]
fn employees_are_validated() {
    let s = read_csv_text("id,name,teams,capacity,active,absent_from,absent_to,salary\ne1,Иванов,dealers;vip,10,да,2026-01-10,2026-01-20,1\ne2,Петров,,-1,maybe,2026-02-10,2026-02-01,2\n", "employees.csv").unwrap();
    let err = load_employees(&s).unwrap_err();
    insta::assert_snapshot!(render_all(&err), @r#"
    error: `capacity` must be a whole number of clients, 0 or more
      --> employees.csv:3:4 (column `capacity`)
      = expected e.g. 250, found -1

    error: `active` must be bool
      --> employees.csv:3:5 (column `active`)
      = expected true/false, yes/no or да/нет, found "maybe"

    error: the absence ends before it starts
      --> employees.csv:3:7 (column `absent_to`)
      = expected a date on or after 2026-02-10, found 2026-02-01

    warning: column `salary` of the employees file is not used
      --> employees.csv:1:8
      = expected id, name, position, teams, skills, capacity, active, absent_from, absent_to, hours, timezone, workdays, email, language, crm_user
    "#);
}

fn clients_for_scheme() -> Data {
    let s = read_csv_text("id,region,significance,potential\nc1,RU-MOW,vip,10\n", "clients.csv").unwrap();
    let mut data = Data::default();
    load_clients(&s, &BTreeMap::new(), &ValueMaps::builtin(), &mut data).unwrap();
    data
}

fn check_scheme(toml: &str) -> String {
    let sf = match SchemeFile::parse(toml, "scheme.toml") {
        Ok(s) => s,
        Err(e) => return render_all(&e),
    };
    let emps = load_employees(&read_csv_text("id,name,teams\nivanov,Иванов,dealers\npetrov,Петров,dealers\n", "e.csv").unwrap()).unwrap();
    match sf.build(&clients_for_scheme(), emps) {
        Ok(s) => format!("ok: {} rules", s.rules.len()),
        Err(e) => render_all(&e),
    }
}

#[test]
fn condition_errors_underline_the_text_in_the_scheme_file() {
    let out = check_scheme(
        r#"
[[rules]]
id = "vip"
role = "sales"
when = 'significance == "vip" and regoin == "RU-MOW"'
employee = "ivanov"
"#,
    );
    insta::assert_snapshot!(out, @r#"
    error: unknown attribute `regoin`
      --> scheme.toml:5:35
      |
    5 | when = 'significance == "vip" and regoin == "RU-MOW"'
      |                                   ^^^^^^ did you mean `region`?
      = expected the name of a column of the data or an attribute declared in the scheme
    "#);
}

#[test]
fn references_are_checked_with_suggestions_and_all_reported_at_once() {
    let out = check_scheme(
        r#"
[[territories]]
id = "moscow"
attribute = "region"
values = ["RU-MOW"]
owners = { sales = "ivanof" }

[[rules]]
id = "a"
role = "sale"
team = "dealers"
strategy = "balance-potentail"

[[rules]]
id = "b"
role = "sales"
"#,
    );
    insta::assert_snapshot!(out, @r#"
    error: unknown employee `ivanof`
      --> scheme.toml:6:20
      |
    6 | owners = { sales = "ivanof" }
      |                    ^^^^^^^^ did you mean `ivanov`?
      = expected the id of an employee in the employees file

    error: unknown role `sale`
      --> scheme.toml:10:8
       |
    10 | role = "sale"
       |        ^^^^^^ did you mean `sales`?
       = expected one of lead, sales, account, service, admin

    error: unknown strategy `balance-potentail`
      --> scheme.toml:12:12
       |
    12 | strategy = "balance-potentail"
       |            ^^^^^^^^^^^^^^^^^^^ did you mean `balance-potential`?
       = expected one of balance-potential, balance-workload, balance-count, round-robin

    error: rule `b` must name exactly one target
      --> scheme.toml:15:6
       |
    15 | id = "b"
       |      ^^^
       = expected `employee = "id"`, a pool (`team = "id"` or `employees = [...]`), or `territory_owner = true`, found none
    "#);
}

#[test]
fn toml_mistakes_are_located() {
    insta::assert_snapshot!(check_scheme("[[rules]]\nid = \"a\"\nrole = \"sales\"\nemploye = \"ivanov\"\n"), @r#"
    error: the scheme is not valid: unknown field `employe`, expected one of `id`, `role`, `on`, `when`, `employee`, `team`, `employees`, `skills`, `strategy`, `weights`, `territory_owner`, `caps`, `catch_up`, `fallback`
      --> scheme.toml:4:1
      |
    4 | employe = "ivanov"
      | ^^^^^^^
    "#);
    insta::assert_snapshot!(check_scheme("[[rules]\n"), @r"
    error: the scheme is not valid: unclosed array table, expected `]`
      --> scheme.toml:1:9
      |
    1 | [[rules]
      |         ^
    ");
}

#[test]
fn the_shipped_examples_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for ex in ["s3", "s4-service", "s4-phone-desk"] {
        let dir = root.join(ex);
        let sf = SchemeFile::parse(&std::fs::read_to_string(dir.join("scheme.toml")).unwrap(), "scheme.toml").unwrap();
        let mut data = Data::default();
        load_clients(&read_table(&dir.join("clients.csv"), Encoding::Utf8).unwrap(), &sf.columns, &sf.values, &mut data).unwrap();
        let emps = load_employees(&read_table(&dir.join("employees.csv"), Encoding::Utf8).unwrap()).unwrap();
        if dir.join("deals.csv").exists() {
            allot_io::tables::load_deals(
                &read_table(&dir.join("deals.csv"), Encoding::Utf8).unwrap(),
                &sf.deal_columns,
                &sf.values,
                &mut data,
            )
            .unwrap();
        }
        sf.build(&data, emps).unwrap_or_else(|e| panic!("{ex}: {}", render_all(&e)));
    }
}

#[test]
fn rules_and_territories_remember_where_they_are_written() {
    let toml = "name = \"x\"\n\n[[territories]]\nid = \"moscow\"\nattribute = \"region\"\nvalues = [\"RU-MOW\"]\n\n[[rules]]\nid = \"a\"\nrole = \"sales\"\nemployee = \"ivanov\"\n\n  [[rules]]\n  id = \"b\"\n  role = \"sales\"\n  employee = \"petrov\"\n";
    let sf = SchemeFile::parse(toml, "scheme.toml").unwrap();
    let emps = load_employees(&read_csv_text("id,name\nivanov,Иванов\npetrov,Петров\n", "e.csv").unwrap()).unwrap();
    let scheme = sf.build(&clients_for_scheme(), emps).unwrap();
    let at = |line: usize| toml.lines().nth(line - 1).unwrap_or("").to_string();
    let (tl, _) = scheme.territories[0].origin.unwrap();
    assert!(at(tl).contains("id = \"moscow\"") || at(tl).contains("[[territories]]"), "line {tl}: {}", at(tl));
    let origins: Vec<(usize, usize)> = scheme.rules.iter().map(|r| r.origin.unwrap()).collect();
    for ((line, col), id) in origins.iter().zip(["a", "b"]) {
        let text = at(*line);
        assert!(text.contains(&format!("id = \"{id}\"")) || text.contains("[[rules]]"), "rule {id} at {line}:{col}: {text}");
        assert!(*col >= 1 && *col <= text.chars().count() + 1);
    }
    assert!(origins[0].0 < origins[1].0);
}

#[test]
fn working_hours_time_zones_and_days_are_read_and_bad_ones_located() {
    use allot_io::tables::{parse_hours, parse_utc_offset, parse_workdays};
    assert_eq!(parse_hours("09:00-18:00"), Some((540, 1080)));
    assert_eq!(parse_hours("9-18"), Some((540, 1080)));
    assert_eq!(parse_hours("22:00-06:00"), Some((1320, 360)));
    assert_eq!(parse_hours("9-9"), None);
    assert_eq!(parse_hours("25:00-26:00"), None);
    assert_eq!(parse_utc_offset("+03:00"), Some(180));
    assert_eq!(parse_utc_offset("UTC+5"), Some(300));
    assert_eq!(parse_utc_offset("МСК"), Some(180));
    assert_eq!(parse_utc_offset("-02:30"), Some(-150));
    assert_eq!(parse_utc_offset("Europe/Moscow"), None);
    assert_eq!(parse_workdays("mon-fri"), Some(0b0001_1111));
    assert_eq!(parse_workdays("пн-пт"), Some(0b0001_1111));
    assert_eq!(parse_workdays("sat,sun"), Some(0b0110_0000));
    assert_eq!(parse_workdays("fri-mon"), Some(0b0111_0001), "Friday, Saturday, Sunday, Monday");
    assert_eq!(parse_workdays("someday"), None);
    let ok = load_employees(
        &read_csv_text("id,name,hours,timezone,workdays\nivanov,Иванов,09:00-18:00,+03:00,пн-пт\npetrov,Петров,,,\n", "e.csv").unwrap(),
    )
    .unwrap();
    assert_eq!(ok[0].hours, Some(allot_core::model::WorkingHours { from: 540, to: 1080, utc_offset: 180, days: 0b0001_1111 }));
    assert_eq!(ok[1].hours, None);
    let err = load_employees(&read_csv_text("id,hours,timezone\nivanov,9 to 6,Europe/Moscow\n", "e.csv").unwrap()).unwrap_err();
    let text = render_all(&err);
    assert!(text.contains("e.csv:2:2") && text.contains("`hours` is not understood"), "{text}");
    assert!(text.contains("e.csv:2:3") && text.contains("+03:00, UTC+5 or MSK"), "{text}");
}

#[test]
fn credit_shares_are_read_in_basis_points_and_checked_to_sum_to_100() {
    // Issue #6, point 2: shares per role, revenue exactly 100%, overlay apart, conditions as in rules.
    let toml = r#"
[credit]
policy = "time-in-role"

[[credit.shares]]
when = 'client.significance == "vip"'
revenue = { sales = 33.33, account = 66.67 }
overlay = { lead = 10 }

[[credit.shares]]
revenue = { sales = 70, account = 20, service = 10 }
"#;
    let sf = SchemeFile::parse(toml, "scheme.toml").unwrap();
    let emps = load_employees(&read_csv_text("id,name\nivanov,Иванов\n", "e.csv").unwrap()).unwrap();
    let scheme = sf.build(&clients_for_scheme(), emps).unwrap();
    let credit = scheme.credit.as_ref().unwrap();
    assert_eq!(credit.policy, allot_core::credit::Policy::TimeInRole);
    let named = |v: &[(usize, u32)]| v.iter().map(|(r, bp)| (scheme.roles[*r].id.clone(), *bp)).collect::<Vec<_>>();
    assert_eq!(named(&credit.rules[0].revenue), [("account".to_string(), 6667), ("sales".to_string(), 3333)]);
    assert_eq!(named(&credit.rules[0].overlay), [("lead".to_string(), 1000)]);
    assert_eq!(credit.rules[0].source, r#"client.significance == "vip""#);
    assert_eq!(credit.rules[1].revenue.iter().map(|x| x.1).sum::<u32>(), 10_000);

    let bad = check_scheme(
        r#"
[credit]
policy = "sale-day"

[[credit.shares]]
revenue = { sales = 70, acount = 20, service = 10.005 }

[[credit.shares]]
revenue = { sales = 70, account = 20 }
"#,
    );
    assert!(bad.contains("unknown credit policy `sale-day`") && bad.contains("did you mean `sale-date`?"), "{bad}");
    assert!(bad.contains("unknown role `acount`") && bad.contains("did you mean `account`?"), "{bad}");
    assert!(bad.contains("`10.005` is not a share of revenue credit"), "{bad}");
    assert!(bad.contains("revenue shares sum to 90%, not 100%") && bad.contains("scheme.toml:8:1"), "{bad}");
}

// ---------------------------------------------------------------------------------------------
// Files as CRMs and people export them (issue #14)

/// The line each error names, for a file whose lines end with `eol`.
fn error_lines(text: &str) -> Vec<String> {
    let out = check_csv(text);
    out.lines().filter(|l| l.contains("--> clients.csv:")).map(|l| l.trim().trim_start_matches("--> ").to_string()).collect()
}

#[test]
fn line_numbers_are_exact_for_lf_crlf_and_lone_cr_files_with_quoted_line_breaks() {
    // Line 2 holds a quoted line break, so the bad potential of c3 stands on line 5 and c4's on 6.
    for eol in ["\n", "\r\n", "\r"] {
        let text = ["id,name,potential", "c1,\"two", "lines\",10", "c2,b,20", "c3,c,много", "c4,d,1e400", ""].join(eol);
        assert_eq!(error_lines(&text), vec!["clients.csv:5:3 (column `potential`)", "clients.csv:6:3 (column `potential`)"], "{eol:?}");
    }
    // A duplicate id names both lines, CRLF included.
    let out = check_csv("id,potential\r\nc1,1\r\nc2,2\r\nc1,3\r\n");
    assert!(out.contains("clients.csv:4:1") && out.contains("the same id on line 2"), "{out}");
    // A bad value on line 2 points at line 2, not at the header.
    assert_eq!(error_lines("id,potential\r\nc1,x\r\n"), vec!["clients.csv:2:2 (column `potential`)"]);
}

#[test]
fn json_lines_count_lone_cr_and_crlf_line_ends() {
    let text = "{\"id\":\"c1\"}\r{\"id\":\"c2\"}\r\n{\"id\":\r";
    let err = render_all(&read_jsonl_text(text, "leads.jsonl").err().unwrap());
    assert!(err.contains("leads.jsonl:3:"), "{err}");
}

#[test]
fn numbers_that_cannot_be_kept_exactly_are_located_errors() {
    // More than 15 significant digits, overflow and an exponent beyond an f64: each refused, by line.
    let long = "1".repeat(300);
    let out = check_csv(&format!("id;potential\nc1;{long}\nc2;123456789012345678901234567\nc3;1e400\nc4;2.5e3\nc5;1 234,50\n"));
    assert!(out.contains("clients.csv:2:2") && out.contains("300 significant digits"), "{out}");
    assert!(out.contains("clients.csv:3:2") && out.contains("27 significant digits"), "{out}");
    assert!(out.contains("clients.csv:4:2") && out.contains("too large"), "{out}");
    assert!(!out.contains("clients.csv:5:") && !out.contains("clients.csv:6:"), "2.5e3 and 1 234,50 are numbers: {out}");
    assert_eq!(parse_number("2.5e3"), Some(2500.0));
    assert_eq!(parse_number("123456789012345"), Some(123456789012345.0), "15 digits are kept");
    assert_eq!(parse_number("1234567890123456"), None, "16 are not");
    assert_eq!(parse_number("0.000000000000000000001"), Some(1e-21), "leading zeros are not significant");
    // A column of 20-digit account numbers is text, not a number rounded silently.
    let out = check_csv("id,account\nc1,40702810900000012345\n");
    assert!(out.contains("account:text=40702810900000012345"), "{out}");
    // JSON numbers are held to the same rule.
    let sheet = read_jsonl_text("{\"id\":\"c1\",\"potential\":123456789012345678901234567}\n", "c.jsonl").unwrap();
    let err = load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut Data::default()).unwrap_err();
    assert!(render_all(&err).contains("significant digits"), "{}", render_all(&err));
}

#[test]
fn utf8_is_recognised_whatever_encoding_is_asked_and_cp1251_is_read_only_where_it_is() {
    let utf8 = "id;name\nivanova;Григорьева\n".as_bytes();
    // Asked for cp1251 (as for a folder of 1C files), a UTF-8 file is still read as UTF-8: never garbled.
    assert_eq!(decode(utf8, "employees.csv", Encoding::Cp1251).unwrap(), "id;name\nivanova;Григорьева\n");
    let (cp, _, _) = encoding_rs::WINDOWS_1251.encode("id;регион\nк1;Москва\n");
    assert_eq!(decode(&cp, "clients.csv", Encoding::Cp1251).unwrap(), "id;регион\nк1;Москва\n");
    // A byte Windows-1251 leaves undefined is refused by line and byte.
    let mut bad = cp.to_vec();
    bad.extend_from_slice(b"\xEA2;\x98\n");
    let err = decode(&bad, "clients.csv", Encoding::Cp1251).unwrap_err().to_string();
    assert!(err.contains("clients.csv:3:4") && err.contains("byte 0x98"), "{err}");
    // Per file: `clients=cp1251` reads the clients file so and leaves the others UTF-8.
    let enc = allot_io::Encodings::merge(&[allot_io::Encodings::parse(&["clients=cp1251".into()]).unwrap()]);
    assert_eq!(enc.for_file(Path::new("data/clients.csv")), Encoding::Cp1251);
    assert_eq!(enc.for_file(Path::new("data/employees.csv")), Encoding::Utf8);
    assert!(allot_io::Encodings::parse(&["clients=koi8".into()]).unwrap_err().to_string().contains("unknown encoding `koi8`"));
}

#[test]
fn region_names_short_forms_and_codes_become_iso_codes() {
    let m = allot_io::values::regions();
    for (written, code) in [
        ("Татарстан", "RU-TA"),
        ("Респ. Татарстан", "RU-TA"),
        ("Республика Татарстан", "RU-TA"),
        ("татарстан респ", "RU-TA"),
        ("RU-TA", "RU-TA"),
        ("ru-ta", "RU-TA"),
        ("Москва", "RU-MOW"),
        ("г. Москва", "RU-MOW"),
        ("Московская обл.", "RU-MOS"),
        ("Санкт-Петербург", "RU-SPE"),
        ("Алтайский край", "RU-ALT"),
        ("Республика Алтай", "RU-AL"),
        ("ХМАО — Югра", "RU-KHM"),
        ("Ханты-Мансийский АО", "RU-KHM"),
        ("Чувашия", "RU-CU"),
        ("Чувашская Респ.", "RU-CU"),
        ("Республика Саха (Якутия)", "RU-SA"),
        ("Северная Осетия", "RU-SE"),
        ("Орловская область", "RU-ORL"),
        ("Приморский край", "RU-PRI"),
        ("Tatarstan", "RU-TA"),
        ("Moscow Oblast", "RU-MOS"),
        ("Еврейская АО", "RU-YEV"),
    ] {
        assert_eq!(m.get(written), Some(code), "{written}");
    }
    // ё and е are one letter; every one of the 83 subjects is known by its Russian name.
    assert_eq!(m.get("Орёл"), None, "a town is not a region");
    let regions = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ru/regions.csv")).unwrap();
    for line in regions.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(m.get(f[2]), Some(f[0]), "{}", f[2]);
        assert_eq!(m.get(&f[2].replace('е', "ё")), Some(f[0]), "{}", f[2]);
    }
    // In a file: names become codes; an unknown one is a warning with the nearest names.
    let sheet = read_csv_text("id;region\nc1;Татарстан\nc2;г. Москва\nc3;Татарстн\n", "clients.csv").unwrap();
    let mut data = Data::default();
    let warnings = load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut data).unwrap();
    assert!(dump(&data).contains("c1: region:text=RU-TA") && dump(&data).contains("c2: region:text=RU-MOW"), "{}", dump(&data));
    let w = render_all(&warnings);
    assert!(w.contains("clients.csv:4:2") && w.contains("Республика Татарстан (RU-TA)"), "{w}");
    // A column of other region codes altogether is left alone, without warnings.
    let sheet = read_csv_text("id;region\nc1;north\nc2;south\n", "clients.csv").unwrap();
    assert!(load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut Data::default()).unwrap().is_empty());
}

#[test]
fn a_scheme_renames_export_headers_and_maps_values_of_its_own() {
    let scheme = r#"
[columns]
id = "ID"
region = "Регион"
industry = { from = "Сфера деятельности", type = "text" }
potential = "number"

[values.industry]
"ИТ" = "it"
"Информационные технологии" = "it"

[[rules]]
id = "it"
role = "sales"
when = 'industry == "it" and `Тип компании` == "Клиент"'
employee = "ivanov"
"#;
    let sf = SchemeFile::parse(scheme, "scheme.toml").unwrap();
    let mut sheet =
        read_csv_text("ID;Название компании;Регион;Сфера деятельности;Тип компании;potential\r\n7;ООО Ромашка;Татарстан;информационные технологии;Клиент;1 500\r\n", "export.csv").unwrap();
    assert!(sf.rename_headers(&mut sheet, false).is_empty());
    assert_eq!(sheet.headers, ["id", "Название компании", "region", "industry", "Тип компании", "potential"]);
    let mut data = Data::default();
    load_clients(&sheet, &sf.columns, &sf.values, &mut data).unwrap();
    assert!(dump(&data).contains("region:text=RU-TA") && dump(&data).contains("industry:text=it"), "{}", dump(&data));
    assert_eq!(data.clients.id(0), "7", "`ID` is the id column");
    let emps = load_employees(&read_csv_text("id,name\nivanov,Иванов\n", "employees.csv").unwrap()).unwrap();
    let s = sf.build(&data, emps).unwrap();
    assert_eq!(s.rules.len(), 1, "a header with spaces is named in backticks");
    // A header the file lacks is an error in the scheme, with the file's nearest header.
    let mut sheet = read_csv_text("ID;Регон\n1;Татарстан\n", "export.csv").unwrap();
    let err = render_all(&sf.rename_headers(&mut sheet, false));
    assert!(err.contains("column `Регион` is not in export.csv") && err.contains("did you mean `Регон`?"), "{err}");
}

#[test]
fn a_crm_field_map_is_read_and_each_mistake_is_located() {
    // Issue #18 §1: the portal's company fields to the clients' attributes, users to employees.
    let good = "[crm]\nsystem = \"bitrix24\"\nemployee = \"EMAIL\"\n\n[crm.clients]\nTITLE = \"name\"\nUF_CRM_1700000000 = \"potential\"\n";
    let crm = SchemeFile::parse(good, "scheme.toml").unwrap().crm().unwrap();
    assert_eq!((crm.system.as_str(), crm.employee.as_str()), ("bitrix24", "EMAIL"));
    assert_eq!(crm.clients, [("TITLE".to_string(), "name".to_string()), ("UF_CRM_1700000000".to_string(), "potential".to_string())]);
    let bad = "[crm]\nsystem = \"bitrix\"\nemployee = \"LOGIN\"\n\n[crm.clients]\ntitle = \"name\"\nTITLE = \"id\"\nCOMPANY_TYPE = \"kind\"\nINDUSTRY = \"kind\"\n";
    let errors: Vec<String> = SchemeFile::parse(bad, "scheme.toml").err().unwrap().iter().map(ToString::to_string).collect();
    let all = errors.join("\n");
    assert_eq!(errors.len(), 5, "{all}");
    assert!(all.contains("scheme.toml:2:") && all.contains("`bitrix` is not one allot connects to") && all.contains("bitrix24"), "{all}");
    assert!(all.contains("scheme.toml:3:") && all.contains("`LOGIN`"), "{all}");
    assert!(all.contains("scheme.toml:6:") && all.contains("`title` is not a field"), "{all}");
    assert!(all.contains("scheme.toml:7:") && all.contains("a client's id is the company's ID"), "{all}");
    assert!(all.contains("`kind` would be read from two fields"), "{all}");
    assert!(SchemeFile::parse("", "s.toml").unwrap().crm().is_none());
}

#[test]
fn the_roles_written_back_to_the_crm_are_roles_of_the_scheme_each_in_its_own_user_field() {
    // Issue #18 §1 write-back: the owner role to ASSIGNED_BY_ID, each other role to a user field.
    let crm = SchemeFile::parse("[crm]\nsystem = \"bitrix24\"\n", "s.toml").unwrap().crm().unwrap();
    assert_eq!((crm.owner.as_str(), crm.roles.len()), ("sales", 0), "the sales role is the responsible unless said");
    let good = "[[roles]]\nid = \"desk\"\n\n[crm]\nsystem = \"bitrix24\"\nowner = \"account\"\n\n[crm.roles]\nservice = \"UF_CRM_SERVICE\"\ndesk = \"UF_CRM_DESK\"\n";
    let crm = SchemeFile::parse(good, "s.toml").unwrap().crm().unwrap();
    assert_eq!(crm.owner, "account");
    assert_eq!(crm.roles, [("desk".to_string(), "UF_CRM_DESK".to_string()), ("service".to_string(), "UF_CRM_SERVICE".to_string())]);
    let bad =
        "[crm]\nsystem = \"bitrix24\"\nowner = \"boss\"\n\n[crm.roles]\nsales = \"UF_CRM_A\"\nnobody = \"UF_CRM_B\"\nservice = \"TITLE\"\n";
    let errors: Vec<String> = SchemeFile::parse(bad, "s.toml").err().unwrap().iter().map(ToString::to_string).collect();
    let all = errors.join("\n");
    assert_eq!(errors.len(), 3, "{all}");
    assert!(all.contains("s.toml:3:") && all.contains("`boss` is not a role"), "{all}");
    assert!(all.contains("s.toml:7:") && all.contains("`nobody` is not a role"), "{all}");
    assert!(all.contains("s.toml:8:") && all.contains("must be a user field"), "{all}");
    let twice = "[crm]\nsystem = \"bitrix24\"\n\n[crm.roles]\naccount = \"UF_CRM_A\"\nsales = \"UF_CRM_B\"\nservice = \"UF_CRM_A\"\n";
    let all: String = SchemeFile::parse(twice, "s.toml").err().unwrap().iter().map(ToString::to_string).collect();
    assert!(all.contains("s.toml:6:") && all.contains("the owner role"), "{all}");
    assert!(all.contains("s.toml:7:") && all.contains("would hold two roles, account and service"), "{all}");
}

#[test]
fn an_employee_s_contacts_are_checked_and_each_mistake_located() {
    // Issue #18: where an employee is told a client became theirs, in which language, and who
    // they are in the CRM.
    let s = read_csv_text(
        "id,name,email,language,crm_user\nanna,Анна,anna@example.ru,Русский,17\nboris,Борис,,EN,\nvera,Вера,vera(at)example.ru,fr,x7\n",
        "employees.csv",
    )
    .unwrap();
    let err = allot_io::tables::employee_contacts(&s).unwrap_err();
    let all = render_all(&err);
    assert_eq!(err.len(), 3, "{all}");
    assert!(all.contains("employees.csv:4:3 (column `email`)") && all.contains("an e-mail address"), "{all}");
    assert!(all.contains("employees.csv:4:4 (column `language`)") && all.contains("ru or en"), "{all}");
    assert!(all.contains("employees.csv:4:5 (column `crm_user`)"), "{all}");
    let s = read_csv_text("id,name,email,language,crm_user\nanna,Анна,anna@example.ru,Русский,17\nboris,Борис,,EN,\n", "e.csv").unwrap();
    let ok = allot_io::tables::employee_contacts(&s).unwrap();
    assert_eq!(ok[0], [("email", "anna@example.ru".to_string()), ("language", "ru".to_string()), ("crm_user", "17".to_string())]);
    assert_eq!(ok[1], [("language", "en".to_string())]);
}

/// Every cell and line of a sheet, to compare a file read in chunks with the same file read whole.
fn cells(sheet: &allot_io::Sheet) -> Vec<(u64, Vec<String>)> {
    (0..sheet.len()).map(|r| (sheet.lines[r], (0..sheet.headers.len()).map(|c| format!("{:?}", sheet.cell(r, c))).collect())).collect()
}

#[test]
fn a_file_read_in_chunks_gives_the_rows_and_lines_of_the_file_read_whole() {
    // Issue #19: a quoted field with line breaks across a chunk's end, CRLF, a byte-order mark,
    // a blank line, `;` and Cyrillic; chunks of two lines.
    let text = "\u{feff}id;name;note\r\nc1;Альфа;\"первая\r\nвторая\r\nтретья\"\r\nc2;Бета;x\r\n\r\nc3;\"Гамма; ООО\";y\r\nc4;Дельта;\"\"\"кавычки\"\"\"\r\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clients.csv");
    std::fs::write(&path, text).unwrap();
    let whole = read_table(&path, Encoding::Utf8).unwrap();
    let mut chunks = allot_io::sheet::CsvChunks::open(&path, Encoding::Utf8, 2).unwrap().unwrap();
    assert_eq!(chunks.headers().unwrap(), whole.headers);
    let mut read = Vec::new();
    let mut n = 0;
    while let Some(chunk) = chunks.next_chunk() {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.headers, whole.headers);
        read.extend(cells(&chunk));
        n += 1;
    }
    assert_eq!(read, cells(&whole));
    assert!(n >= 3, "read in several chunks: {n}");
    assert_eq!(whole.lines, vec![2, 5, 7, 8]);

    // A chunk's error is told at the file's line, and the next chunk is still read.
    let bad = "id,name\nc1,a\nc2,b\nc3,c,extra\nc4,d\n";
    std::fs::write(&path, bad).unwrap();
    let mut chunks = allot_io::sheet::CsvChunks::open(&path, Encoding::Utf8, 2).unwrap().unwrap();
    let mut errors = Vec::new();
    let mut ids = Vec::new();
    while let Some(chunk) = chunks.next_chunk() {
        match chunk {
            Ok(s) => ids.extend((0..s.len()).map(|r| format!("{:?}", s.cell(r, 0)))),
            Err(e) => errors.extend(e),
        }
    }
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (Some(4), Some(3)), "{}", render_all(&errors));
    assert_eq!(ids, vec![format!("{:?}", allot_io::sheet::CellRef::Text("c1")), format!("{:?}", allot_io::sheet::CellRef::Text("c2"))]);

    // Windows-1251, as 1C writes it: decoded chunk by chunk, a bad byte located in the file.
    let mut cp = b"id,name\nc1,".to_vec();
    cp.extend([0xC0, 0xEB, 0xFC, 0xF4, 0xE0]); // «Альфа»
    cp.extend(b"\nc2,b\nc3,c\n");
    std::fs::write(&path, &cp).unwrap();
    let mut chunks = allot_io::sheet::CsvChunks::open(&path, Encoding::Cp1251, 1).unwrap().unwrap();
    let first = chunks.next_chunk().unwrap().unwrap();
    assert_eq!(first.cell(0, 1), allot_io::sheet::CellRef::Text("Альфа"));
    let mut utf8 = allot_io::sheet::CsvChunks::open(&path, Encoding::Utf8, 1).unwrap().unwrap();
    let Some(Err(err)) = utf8.next_chunk() else { panic!("Windows-1251 bytes are not UTF-8") };
    assert_eq!(err[0].line, Some(2), "{}", render_all(&err));
    assert!(utf8.next_chunk().unwrap().is_ok(), "the next chunk is read on");
}

#[test]
fn a_file_of_several_blocks_keeps_every_row_its_fields_and_its_line() {
    // Issue #19: a CSV file is read a megabyte at a time. Line ends of all three kinds, a CRLF
    // split by a block's end, a quoted line break across the next block's end, blank lines and
    // Cyrillic; every row's cells and line are checked against what was written.
    const BLOCK: usize = 1 << 20; // the reader's block
    let mut text = String::from("id;name;note\n");
    let (mut line, mut expected) = (2u64, Vec::new());
    let mut i = 0;
    while text.len() < 3 * BLOCK + 1000 {
        let eol = ["\n", "\r\n", "\r"][i % 3];
        let id = format!("c{i}");
        let name = format!("Клиент «Номер {i}»");
        // Before the first block's end: pad a row so that its CRLF straddles it.
        let row = format!("{id};{name};x");
        let pad = (BLOCK - 1).checked_sub(text.len() + row.len()).filter(|&p| p < 200);
        if let Some(pad) = pad {
            let note = "y".repeat(pad + 1);
            text.push_str(&format!("{id};{name};{note}\r\n"));
            assert_eq!(&text.as_bytes()[BLOCK - 1..=BLOCK], b"\r\n", "the CRLF straddles the block's end");
            expected.push((line, vec![id, name, note]));
            line += 1;
        } else if text.len() > 2 * BLOCK - 100 && text.len() < 2 * BLOCK {
            // A quoted line break inside the second block's end.
            let note = "до\r\nпосле".to_string();
            text.push_str(&format!("{id};{name};\"{note}\"{eol}"));
            expected.push((line, vec![id, name, note]));
            line += 2;
        } else {
            text.push_str(&format!("{row}{eol}"));
            expected.push((line, vec![id, name, "x".into()]));
            line += 1;
        }
        if i % 5000 == 4999 {
            text.push_str(eol); // a blank line, ended as its row is
            line += 1;
        }
        i += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clients.csv");
    std::fs::write(&path, &text).unwrap();
    for sheet in [read_table(&path, Encoding::Utf8).unwrap(), read_csv_text(&text, "clients.csv").unwrap()] {
        assert_eq!(sheet.len(), expected.len());
        for (r, (line, want)) in expected.iter().enumerate() {
            let got: Vec<String> = (0..3)
                .map(|c| match sheet.cell(r, c) {
                    allot_io::sheet::CellRef::Text(t) => t.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            assert_eq!((sheet.lines[r], &got), (*line, want), "row {r}");
        }
    }
    // A row with a field too many, in the fourth block, is told at its line.
    let bad_row = expected.len() - 10;
    let at = text.find(&format!("\nc{bad_row};")).map(|p| p + 1).unwrap();
    let mut bad = text.clone();
    bad.insert_str(at + format!("c{bad_row};").len(), "лишнее;");
    std::fs::write(&path, &bad).unwrap();
    let err = read_table(&path, Encoding::Utf8).err().unwrap();
    assert_eq!(err.len(), 1, "{}", render_all(&err));
    assert_eq!(err[0].line, Some(expected[bad_row].0 as usize), "{}", render_all(&err));

    // Windows-1251 of several blocks: not UTF-8, so read again decoded, the same rows.
    let plain: String = expected.iter().map(|(_, f)| format!("{};{};y\n", f[0], f[1])).collect();
    let plain = format!("id;name;note\n{plain}");
    let (cp, _, _) = encoding_rs::WINDOWS_1251.encode(&plain);
    std::fs::write(&path, &cp).unwrap();
    let sheet = read_table(&path, Encoding::Cp1251).unwrap();
    assert_eq!(sheet.len(), expected.len());
    assert_eq!(sheet.cell(expected.len() - 1, 1), allot_io::sheet::CellRef::Text(expected.last().unwrap().1[1].as_str()));
    assert_eq!(sheet.lines.last(), Some(&(expected.len() as u64 + 1)));
}

#[test]
fn a_sheet_built_cell_by_cell_reads_back_as_written() {
    // Issue #19: the store's attributes are read back into one text buffer, 16 bytes a cell.
    use allot_io::sheet::{CellRef, SheetBuilder};
    let mut b = SheetBuilder::new("the store's clients", vec!["id".into(), "name".into(), "potential".into(), "products".into()], 2);
    for (id, name, potential) in [("c1", "ООО «Альфа»", Some(1500.5)), ("c2", "  ", None)] {
        let row = b.row();
        let t = b.push_text(id).unwrap();
        b.set_text(row, 0, t);
        let t = b.push_text(name).unwrap();
        b.set_text(row, 1, t);
        if let Some(p) = potential {
            b.set_number(row, 2, p);
            b.set_list(row, 3, vec!["сети".into(), "ПО".into()]);
        }
        b.set_bool(row, 9, true); // past the last column: ignored
    }
    let sheet = b.finish();
    assert_eq!((sheet.len(), sheet.lines.clone()), (2, vec![2, 3]));
    assert_eq!(sheet.cell(0, 0), CellRef::Text("c1"));
    assert_eq!(sheet.cell(0, 1), CellRef::Text("ООО «Альфа»"));
    assert_eq!(sheet.cell(0, 2), CellRef::Number(1500.5));
    assert_eq!(sheet.cell(0, 3), CellRef::List(&["сети".to_string(), "ПО".to_string()]));
    assert_eq!(sheet.cell(1, 1), CellRef::Empty, "white space alone is an empty cell");
    assert_eq!(sheet.cell(1, 2), CellRef::Empty);
    // Typed as a file's rows are.
    let mut data = Data::default();
    load_clients(&sheet, &BTreeMap::new(), &ValueMaps::builtin(), &mut data).unwrap();
    assert_eq!(data.clients.len(), 2);
    assert_eq!(data.clients.number(data.clients.column_index("potential").unwrap(), 0), Some(1500.5));
}

#[test]
fn a_large_file_typed_on_two_cores_tells_its_errors_in_the_files_order() {
    // Issue #19: from 100,000 rows the numbers, dates and yes/no columns are typed on a second
    // core; every error is still told by line and column, in the file's order, and the good
    // file's values are where they belong.
    let mut text = String::from("id,name,potential,since,vip,tags\n");
    let n = 120_000;
    for i in 0..n {
        text.push_str(&format!("c{i},Клиент {i},{},2026-01-{:02},да,a;b\n", i * 10, i % 28 + 1));
    }
    let mut data = Data::default();
    let sheet = read_csv_text(&text, "clients.csv").unwrap();
    let declared: BTreeMap<String, Type> = [("since".to_string(), Type::Date), ("vip".to_string(), Type::Bool)].into_iter().collect();
    load_clients(&sheet, &declared, &ValueMaps::builtin(), &mut data).unwrap();
    let c = &data.clients;
    let (p, s, v) = (c.column_index("potential").unwrap(), c.column_index("since").unwrap(), c.column_index("vip").unwrap());
    for row in [0u32, 59_999, 119_999] {
        assert_eq!(c.number(p, row), Some(row as f64 * 10.0));
        assert_eq!(c.date(s, row), allot_io::tables::parse_date(&format!("2026-01-{:02}", row % 28 + 1)));
        assert_eq!(c.boolean(v, row), Some(true));
        assert_eq!(c.id(row), format!("c{row}"));
    }
    // Bad cells in both cores' columns, a repeated id and a row without one, far apart.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = "c1,Дубль,много,2026-13-01,да,x".into(); // line 4: repeated id, bad number and date
    lines[60_000] = ",Без id,5,2026-01-01,да,x".into(); // line 60,001: no id (its cells unread)
    lines[60_001] = "c60000,Ок,5,2026-01-01,может быть,x".into(); // line 60,002: bad yes/no
    lines[119_000] = "c118999,Ок,1e400,2026-01-01,да,x".into(); // line 119,001: too large
    let bad = lines.join("\n") + "\n";
    let sheet = read_csv_text(&bad, "clients.csv").unwrap();
    let err = load_clients(&sheet, &declared, &ValueMaps::builtin(), &mut Data::default()).unwrap_err();
    let at: Vec<(Option<usize>, Option<usize>)> = err.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(
        at,
        vec![
            (Some(4), Some(1)),
            (Some(4), Some(3)),
            (Some(4), Some(4)),
            (Some(60_001), Some(1)),
            (Some(60_002), Some(5)),
            (Some(119_001), Some(3))
        ],
        "{}",
        render_all(&err)
    );
    assert!(render_all(&err).contains("the same id on line 3"), "{}", render_all(&err));
}
