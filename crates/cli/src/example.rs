//! `allot example`: writes the runnable examples of MISSION.md, deterministically.
//!
//! - `s3`: the wholesale digital-equipment department of 10 (S3): 7 dealer managers, each owning
//!   one of 7 region groups; 2 VIP managers (Moscow, all other regions); 1 government-sector
//!   manager for Moscow. Clients are spread over Russia's federal subjects in proportion to the
//!   population of their towns (GeoNames, CC BY 4.0, copied to `data/ru/`).
//! - `s4-service`: complex equipment (S4.1): every client has a sales manager and a service engineer.
//! - `s4-phone-desk`: the phone desk (S4.4): the desk employee sells to one-off clients buying for
//!   less than 1000 and is the administrator of every other deal.
//!
//! The random stream is a SplitMix64 written here rather than `rand`, so that the shipped files
//! stay byte-identical across dependency upgrades (rand does not promise stable value streams).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PLACES: &str = include_str!("../../../data/ru/places.csv");
const REGIONS: &str = include_str!("../../../data/ru/regions.csv");

#[derive(clap::Args)]
pub struct ExampleArgs {
    /// Which example: s3, s4-service or s4-phone-desk.
    #[arg(value_parser = ["s3", "s4-service", "s4-phone-desk"])]
    name: String,
    /// Folder to write it to (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of clients to generate (s3 and s4-service).
    #[arg(long)]
    clients: Option<usize>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

/// SplitMix64: small, fast, and its stream never changes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.f64() * n as f64) as usize % n.max(1)
    }
    pub fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-300);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// An index drawn in proportion to `cumulative` weights (non-decreasing, last = total).
    pub fn weighted(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let x = self.f64() * total;
        cumulative.partition_point(|&c| c <= x).min(cumulative.len() - 1)
    }
}

pub struct Place {
    pub name_ru: String,
    pub region: String,
    pub lat: f64,
    pub lon: f64,
    pub population: f64,
}

pub fn places() -> Vec<Place> {
    PLACES
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(Place {
                name_ru: f.get(2)?.to_string(),
                region: f.get(3)?.to_string(),
                lat: f.get(4)?.parse().ok()?,
                lon: f.get(5)?.parse().ok()?,
                population: f.get(6)?.parse().ok()?,
            })
        })
        .collect()
}

/// The seven dealer managers of S3, each owning one territory cut by `allot balance`.
pub const DEALERS: [&str; 7] = ["ivanov", "smirnova", "kuznetsov", "popova", "vasiliev", "petrova", "sokolov"];

/// The S3 balance: regions stay whole, potential within 5% where the map allows it (Moscow alone
/// outweighs a seventh of the country and becomes a territory of its own).
pub const S3_TOLERANCE: f64 = 0.05;

const S3_EMPLOYEES: &str = "\
id,name,position,teams,skills,capacity,active
ivanov,Иванов Иван,Менеджер по работе с дилерами,dealers,,,true
smirnova,Смирнова Анна,Менеджер по работе с дилерами,dealers,,,true
kuznetsov,Кузнецов Дмитрий,Менеджер по работе с дилерами,dealers,,,true
popova,Попова Елена,Менеджер по работе с дилерами,dealers,,,true
vasiliev,Васильев Сергей,Менеджер по работе с дилерами,dealers,,,true
petrova,Петрова Мария,Менеджер по работе с дилерами,dealers,,,true
sokolov,Соколов Андрей,Менеджер по работе с дилерами,dealers,,,true
mikhailova,Михайлова Ольга,Менеджер VIP-клиентов (Москва),vip,vip,,true
novikov,Новиков Алексей,Менеджер VIP-клиентов (регионы),vip,vip,,true
fedorova,Фёдорова Татьяна,Менеджер госсектора (Москва),government,government,,true
";

const INDUSTRIES: [&str; 8] = ["торговля", "производство", "образование", "медицина", "ИТ", "логистика", "финансы", "строительство"];
const PRODUCTS: [&str; 6] = ["компьютеры", "серверы", "сети", "принтеры", "хранение данных", "ПО"];
const WORDS: [&str; 16] = [
    "Альфа",
    "Вектор",
    "Гранит",
    "Дельта",
    "Заря",
    "Импульс",
    "Квант",
    "Легион",
    "Меридиан",
    "Нева",
    "Орбита",
    "Прогресс",
    "Ресурс",
    "Сигма",
    "Темп",
    "Феникс",
];
const SURNAMES: [&str; 10] = ["Андреев", "Белов", "Волков", "Гусев", "Дмитриев", "Егоров", "Жуков", "Зайцев", "Козлов", "Лебедев"];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A client row of the S3 base: id,name,city,region,industry,significance,channel,ownership,products,potential,workload,lat,lon
#[allow(clippy::too_many_arguments)]
fn client_row(
    out: &mut String,
    id: &str,
    name: &str,
    p: &Place,
    industry: &str,
    significance: &str,
    channel: &str,
    ownership: &str,
    products: &[&str],
    potential: i64,
    workload: u32,
    rng: &mut Rng,
) {
    let lat = p.lat + rng.normal() * 0.02;
    let lon = p.lon + rng.normal() * 0.02;
    let _ = writeln!(
        out,
        "{id},{},{},{},{industry},{significance},{channel},{ownership},{},{potential},{workload},{lat:.5},{lon:.5}",
        csv_field(name),
        csv_field(&p.name_ru),
        p.region,
        csv_field(&products.join(";")),
    );
}

fn company_name(rng: &mut Rng, ownership: &str, n: usize) -> String {
    match ownership {
        "government" => {
            format!("{} №{}", rng.pick(&["ГБУЗ «Городская больница", "МБОУ «Школа", "ГКУ «Центр занятости", "ГБУ «МФЦ"]), 1 + n % 180) + "»"
        }
        "person" => format!("ИП {} {}.{}.", rng.pick(&SURNAMES), rng.pick(&["А", "В", "Е", "И", "О"]), rng.pick(&["А", "В", "Н", "С"])),
        _ => format!(
            "{} «{}-{}»",
            rng.pick(&["ООО", "ООО", "АО"]),
            rng.pick(&WORDS),
            rng.pick(&["Техно", "Трейд", "Сервис", "Систем", "Снаб"])
        ),
    }
}

/// The S3 client base: a few showcase clients that tests and the README name, then `n` generated.
pub fn s3_clients(n: usize, seed: u64) -> String {
    let places = places();
    let mut rng = Rng::new(seed);
    let mut cumulative = Vec::with_capacity(places.len());
    let mut acc = 0.0;
    for p in &places {
        // Business clusters in the capitals: more clients per inhabitant.
        let mult = match p.region.as_str() {
            "RU-MOW" => 2.5,
            "RU-SPE" => 1.6,
            _ => 1.0,
        };
        acc += p.population * mult;
        cumulative.push(acc);
    }
    let find = |name: &str| places.iter().find(|p| p.name_ru == name).expect("the place is in data/ru/places.csv");
    let mut out = String::from("id,name,city,region,industry,significance,channel,ownership,products,potential,workload,lat,lon\n");
    let showcase: [(&str, &str, &str, &str, &str, &str, i64); 6] = [
        ("c00001", "ООО «Казань-Цифра»", "Казань", "торговля", "vip", "commercial", 48_000_000),
        ("c00002", "ГБУЗ «Городская больница №15»", "Москва", "медицина", "regular", "government", 3_200_000),
        ("c00003", "ГКУ «Информационный город»", "Москва", "ИТ", "vip", "government", 95_000_000),
        ("c00004", "АО «Меридиан-Трейд»", "Москва", "торговля", "vip", "commercial", 61_000_000),
        ("c00005", "ООО «Сибирь-Систем»", "Новосибирск", "ИТ", "regular", "commercial", 1_150_000),
        ("c00006", "МБОУ «Школа №7»", "Екатеринбург", "образование", "regular", "government", 420_000),
    ];
    for (id, name, city, industry, sig, own, pot) in showcase {
        client_row(&mut out, id, name, find(city), industry, sig, "dealer", own, &["компьютеры", "сети"], pot, 3, &mut rng);
    }
    for i in 0..n {
        let p = &places[rng.weighted(&cumulative)];
        let u = rng.f64();
        let ownership = if u < 0.07 {
            "government"
        } else if u < 0.22 {
            "person"
        } else {
            "commercial"
        };
        let shift = match ownership {
            "government" => 0.4,
            "person" => -1.2,
            _ => 0.0,
        };
        let potential = (13.3 + shift + rng.normal()).exp().round() as i64;
        let score = (potential as f64).ln() + rng.normal() * 0.35;
        let significance = if score > 15.6 {
            "vip"
        } else if score > 14.6 {
            "key"
        } else {
            "regular"
        };
        let channel = *rng.pick(&["dealer", "dealer", "dealer", "retail-chain", "franchise"]);
        let industry = if ownership == "government" {
            *rng.pick(&["образование", "медицина", "финансы"])
        } else {
            *rng.pick(&INDUSTRIES)
        };
        let mut products: Vec<&str> = PRODUCTS.iter().copied().filter(|_| rng.f64() < 0.35).collect();
        if products.is_empty() {
            products.push(PRODUCTS[rng.below(PRODUCTS.len())]);
        }
        let workload = 1 + (potential as f64 / 400_000.0).sqrt().min(9.0) as u32;
        let name = company_name(&mut rng, ownership, i);
        client_row(
            &mut out,
            &format!("c{:05}", i + 7),
            &name,
            p,
            industry,
            significance,
            channel,
            ownership,
            &products,
            potential,
            workload,
            &mut rng,
        );
    }
    out
}

/// The S3 sales of the first half of 2026 (issue #6): about one deal per client, amounts in
/// kopecks drawn around 1% of the client's potential, each opened up to 60 days before its sale.
pub fn s3_deals(clients_csv: &str, seed: u64) -> Result<String, String> {
    let mut rd = csv::Reader::from_reader(clients_csv.as_bytes());
    let mut clients: Vec<(String, f64)> = Vec::new();
    for (i, r) in rd.records().enumerate() {
        let r = r.map_err(|e| format!("S3 clients, row {}: {e}", i + 2))?;
        clients.push((r[0].to_string(), r[9].parse().map_err(|_| format!("S3 clients, row {}: bad potential", i + 2))?));
    }
    let mut rng = Rng::new(seed ^ 0xDEA1);
    let day_of = |m, d| allot_rules::days_from_civil(2026, m, d).ok_or("a bad calendar day in the S3 generator");
    let (first, last) = (day_of(1, 12)?, day_of(6, 30)?);
    let mut out = String::from("id,client_id,date,opened,amount,currency,product_line,stage\n");
    for i in 0..clients.len() {
        let (id, potential) = &clients[rng.below(clients.len())];
        let day = first + rng.below((last - first + 1) as usize) as i32;
        let opened = (day - rng.below(61) as i32).max(first);
        let kopecks = (potential * 100.0 * 0.01 * (0.25 + 1.5 * rng.f64())).round().max(100.0) as i64;
        let _ = writeln!(
            out,
            "d{:05},{id},{},{},{kopecks},RUB,{},won",
            i + 1,
            allot_rules::civil_from_days(day),
            allot_rules::civil_from_days(opened),
            rng.pick(&PRODUCTS)
        );
    }
    Ok(out)
}

/// Russian plural of «регион» after a number.
fn regions_word(n: usize) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => "регионов",
        (1, _) => "регион",
        (2..=4, _) => "региона",
        _ => "регионов",
    }
}

/// S3's seven dealer territories (S2.1), cut by `allot balance`'s engine out of Russia's federal
/// subjects: the clients the dealer managers serve (not VIP, not Moscow's government sector),
/// regions kept whole and contiguous, equal potential within `S3_TOLERANCE`. A region without
/// dealer clients yet joins as a unit of no weight, so every region has a dealer manager.
/// Returns the `[[territories]]` of the scheme.
pub fn s3_dealer_territories(clients_csv: &str) -> Result<String, String> {
    use allot_app::territory::{design, scheme_toml, By, Owners, Request};
    let mut rd = csv::Reader::from_reader(clients_csv.as_bytes());
    let headers = rd.headers().map_err(|e| e.to_string())?.clone();
    let col = |n: &str| headers.iter().position(|h| h == n).ok_or_else(|| format!("the S3 clients have no `{n}` column"));
    let (sig, own, reg, pot, lat, lon) =
        (col("significance")?, col("ownership")?, col("region")?, col("potential")?, col("lat")?, col("lon")?);
    let mut text = String::from("id,region,potential,lat,lon\n");
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in rd.records().enumerate() {
        let r = r.map_err(|e| format!("S3 clients, row {}: {e}", i + 2))?;
        seen.insert(r[reg].to_string());
        let dealer = &r[sig] != "vip" && !(&r[own] == "government" && &r[reg] == "RU-MOW");
        if dealer {
            let _ = writeln!(text, "{},{},{},{},{}", &r[0], &r[reg], &r[pot], &r[lat], &r[lon]);
        }
    }
    let regions: Vec<Vec<String>> =
        REGIONS.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).filter(|f: &Vec<String>| f.len() >= 9).collect();
    for f in &regions {
        if !seen.contains(&f[0]) {
            let _ = writeln!(text, "region-{0},{0},0,{1},{2}", f[0], f[7], f[8]);
        }
    }
    let clients = allot_io::sheet::read_csv_text(&text, "S3 dealer clients").map_err(|d| format!("{d:?}"))?;
    let owners = Owners {
        ids: DEALERS.iter().map(|s| s.to_string()).collect(),
        weights: vec![1.0; DEALERS.len()],
        homes: vec![None; DEALERS.len()],
    };
    let settings = allot_territory::Settings { contiguous: true, seed: 1, restarts: 16, ..Default::default() };
    let req = Request {
        clients,
        unit: Some("region".into()),
        by: vec![By { column: "potential".into(), tolerance: S3_TOLERANCE }],
        territories: None,
        owners: Some(owners),
        current: None,
        adjacency: None,
        settings,
    };
    let mut d = design(req, &()).map_err(|d| format!("{d:?}"))?;
    // Name each territory after its region of largest potential.
    let weight = &d.problem.criteria[0].values;
    let names: Vec<String> = (0..d.labels.len())
        .map(|t| {
            let units: Vec<usize> = (0..d.units.len()).filter(|&u| d.solution.territory[u] as usize == t).collect();
            let top = units.iter().copied().max_by(|&a, &b| weight[a].total_cmp(&weight[b]).then(d.units[b].id.cmp(&d.units[a].id)));
            let name = top.and_then(|u| regions.iter().find(|f| f[0] == d.units[u].id)).map(|f| f[2].clone()).unwrap_or_default();
            match units.len() {
                0 | 1 => name,
                n => format!("{name} и ещё {} {}", n - 1, regions_word(n - 1)),
            }
        })
        .collect();
    d.labels = d.labels.iter().map(|o| format!("dealers-{o}")).collect();
    Ok(scheme_toml(&d, "sales", Some("russia"), &|t| names.get(t).cloned()))
}

pub fn s3_scheme(clients_csv: &str) -> Result<String, String> {
    let mut s = String::from(
        "# MISSION.md S3: a wholesale seller of digital equipment, sales department of 10.\n\
         # Principles combined (S2.7): territory (S2.1), significance (S2.4), ownership (S2.6).\n\
         # Generated by `allot example s3`; regions from GeoNames (CC BY 4.0).\n\n\
         name = \"Оптовая торговля цифровой техникой: отдел продаж из 10 человек\"\n\n\
         [columns]\nsignificance = \"text\"\nownership = \"text\"\n\n\
         # The whole country, then the seven dealer territories (S2.1), each owned by one dealer manager:\n\
         # whole regions, contiguous, of equal dealer-client potential, cut by `allot balance`.\n\
         [[territories]]\nid = \"russia\"\nname = \"Россия\"\nwhere = \"true\"\n\n",
    );
    s.push_str(&s3_dealer_territories(clients_csv)?);
    s.push_str(
        "\n# First match wins, per role. A Moscow VIP government client meets `gov-moscow` first.\n\
         [[rules]]\nid = \"gov-moscow\"\nrole = \"sales\"\nwhen = 'ownership == \"government\" and region == \"RU-MOW\"'\nemployee = \"fedorova\"\n\n\
         [[rules]]\nid = \"vip-moscow\"\nrole = \"sales\"\nwhen = 'significance == \"vip\" and region == \"RU-MOW\"'\nemployee = \"mikhailova\"\n\n\
         [[rules]]\nid = \"vip-regions\"\nrole = \"sales\"\nwhen = 'significance == \"vip\"'\nemployee = \"novikov\"\n\n\
         # Everyone else: the dealer manager who owns the client's territory.\n\
         [[rules]]\nid = \"dealers\"\nrole = \"sales\"\nterritory_owner = true\n\n\
         # Sales credit (S1.2, issue #6): the seller of record on the sale date gets the sale.\n\
         [credit]\npolicy = \"sale-date\"\n\n\
         [[credit.shares]]\nrevenue = { sales = 100 }\n",
    );
    Ok(s)
}

const S4_SERVICE_EMPLOYEES: &str = "\
id,name,position,teams,skills,capacity,active,absent_from,absent_to
morozov,Морозов Павел,Менеджер по продажам,sales,,,true,,
volkova,Волкова Ирина,Менеджер по продажам,sales,,,true,,
zaitsev,Зайцев Олег,Менеджер по продажам,sales,,,true,,
egorov,Егоров Николай,Сервисный инженер,service,mri,,true,,
lebedeva,Лебедева Светлана,Сервисный инженер,service,,,true,,
orlov,Орлов Виктор,Сервисный инженер,service,,,true,,
";

fn s4_service_scheme() -> String {
    "# MISSION.md S4.1: complex equipment. Every client has two responsible people at once:\n\
     # a sales manager (deal, delivery, installation) and a service engineer (maintenance, repair).\n\n\
     name = \"Медицинское оборудование: продажи и сервис\"\n\n\
     [[territories]]\nid = \"west\"\nname = \"Запад (до Урала)\"\nwhere = \"lon < 60\"\nowners = { service = \"lebedeva\" }\n\n\
     [[territories]]\nid = \"east\"\nname = \"Восток (Урал и дальше)\"\nwhere = \"lon >= 60\"\nowners = { service = \"orlov\" }\n\n\
     # Sales: one pool, balanced by potential.\n\
     [[rules]]\nid = \"sales-pool\"\nrole = \"sales\"\nteam = \"sales\"\nstrategy = \"balance-potential\"\n\n\
     # Service: MRI scanners need the engineer certified for them (S1.4); the rest by territory.\n\
     [[rules]]\nid = \"mri-service\"\nrole = \"service\"\nwhen = 'products contains \"МРТ\"'\nteam = \"service\"\nskills = [\"mri\"]\n\n\
     [[rules]]\nid = \"service-by-territory\"\nrole = \"service\"\nterritory_owner = true\n"
        .to_string()
}

fn s4_service_clients(n: usize, seed: u64) -> String {
    let places = places();
    let big: Vec<&Place> = places.iter().filter(|p| p.population > 250_000.0).collect();
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut out = String::from("id,name,city,region,ownership,products,potential,lat,lon\n");
    let equipment = ["МРТ", "КТ", "рентген", "УЗИ", "лаборатория"];
    let showcase: [(&str, &str, &str, &str, i64); 3] = [
        ("h001", "ГБУЗ «Городская клиническая больница №1»", "Москва", "МРТ;КТ", 12_000_000),
        ("h002", "ООО «Клиника Здоровье»", "Казань", "УЗИ;лаборатория", 2_500_000),
        ("h003", "ГАУЗ «Областная больница»", "Новосибирск", "рентген;КТ", 7_800_000),
    ];
    for (id, name, city, products, pot) in showcase {
        let p = places.iter().find(|p| p.name_ru == city).expect("the place is in data/ru/places.csv");
        let _ = writeln!(
            out,
            "{id},{},{},{},government,{},{pot},{:.5},{:.5}",
            csv_field(name),
            p.name_ru,
            p.region,
            csv_field(products),
            p.lat,
            p.lon
        );
    }
    for i in 0..n {
        let p = big[rng.below(big.len())];
        let own = if rng.f64() < 0.6 { "government" } else { "commercial" };
        let name = if own == "government" {
            format!("ГБУЗ «Больница №{}»", 2 + i)
        } else {
            format!("ООО «Медцентр {}»", rng.pick(&WORDS))
        };
        let mut products: Vec<&str> = equipment.iter().copied().filter(|_| rng.f64() < 0.3).collect();
        if products.is_empty() {
            products.push(equipment[1 + rng.below(4)]);
        }
        let pot = (14.5 + rng.normal() * 0.8).exp().round() as i64;
        let _ = writeln!(
            out,
            "h{:03},{},{},{},{own},{},{pot},{:.5},{:.5}",
            i + 4,
            csv_field(&name),
            p.name_ru,
            p.region,
            csv_field(&products.join(";")),
            p.lat,
            p.lon
        );
    }
    out
}

// The phone desk, as a user's Excel would save it: `;`-separated, decimal commas.
const S4_DESK_EMPLOYEES: &str = "\
id;name;position;teams
sidorova;Сидорова Наталья;Оператор телефонной линии;desk
gromov;Громов Артём;Менеджер по продажам;sales
belova;Белова Юлия;Менеджер по продажам;sales
";

const S4_DESK_CLIENTS: &str = "\
id;name;kind;region
k01;Петров Игорь;one-off;RU-MOW
k02;ООО «Офис-Плюс»;regular;RU-MOW
k03;Смирнов Олег;one-off;RU-SPE
k04;АО «Компьютерный мир»;regular;RU-SPE
k05;Кузнецова Вера;one-off;RU-TA
k06;ООО «Школьный центр»;regular;RU-TA
";

const S4_DESK_DEALS: &str = "\
id;client_id;amount;date;product
d001;k01;450,00;2026-11-02;мышь
d002;k01;12 500,00;2026-11-03;ноутбук
d003;k02;999,99;2026-11-03;кабели
d004;k02;87 000,00;2026-11-05;серверы
d005;k03;650,00;2026-11-06;клавиатура
d006;k04;15 300,00;2026-11-09;принтеры
d007;k05;1 000,00;2026-11-10;наушники
d008;k06;43 210,50;2026-11-12;проекторы
";

fn s4_desk_scheme() -> String {
    "# MISSION.md S4.4: one phone-desk employee plays two roles.\n\
     # She is the *seller* for one-off clients buying for less than 1000,\n\
     # and the *administrator* for all other deals. A role is not a job title (S4.3).\n\n\
     name = \"Телефонная линия: продавец и администратор\"\n\n\
     [measures]\namount = \"amount\"\n\n\
     [[rules]]\nid = \"desk-sells-small-one-off\"\nrole = \"sales\"\non = \"deal\"\nwhen = 'client.kind == \"one-off\" and amount < 1000'\nemployee = \"sidorova\"\n\n\
     [[rules]]\nid = \"desk-administers-the-rest\"\nrole = \"admin\"\non = \"deal\"\nwhen = 'not (client.kind == \"one-off\" and amount < 1000)'\nemployee = \"sidorova\"\n\n\
     # Every client has a sales manager; a deal without a deal rule for sales takes the client's.\n\
     [[rules]]\nid = \"sales-managers\"\nrole = \"sales\"\nteam = \"sales\"\nstrategy = \"round-robin\"\n"
        .to_string()
}

const S3_README: &str = "# Example S3: the 10-person sales department\n\n\
MISSION.md S3: a wholesale seller of digital equipment; 7 managers selling to dealers, each pinned to\n\
one of 7 region groups; 2 VIP managers (Moscow, all other regions); 1 government-sector manager for\n\
Moscow. Principles combined: territory, significance, ownership (S2.1, S2.4, S2.6, S2.7).\n\n\
The 7 region groups in `scheme.toml` are cut by the `allot balance` engine (issue #5): the dealer\n\
managers' clients (not VIP, not Moscow's government sector), whole federal subjects as units,\n\
contiguous, equal potential within 5%. Moscow alone holds more than a seventh of that potential, so\n\
it is a territory of its own and the header comment of the territories says so; the other six are\n\
within 5% of each other. A region without dealer clients yet still belongs to a territory. A cut of\n\
the same kind from the command line (docs/balance.md) — it sees only the regions that have dealer\n\
clients and runs 8 restarts where the generator runs 16, so its borders may differ:\n\n\
```sh\nallot balance --clients examples/s3/clients.csv --unit region --contiguous --tolerance 5 \\\n  \
--where 'significance != \"vip\" and not (ownership == \"government\" and region == \"RU-MOW\")' \\\n  \
--employees examples/s3/employees.csv --team dealers --scheme-out territories.toml --map map.svg\n```\n\n\
```sh\nallot check   --dir examples/s3\nallot assign  --dir examples/s3 -o /tmp/s3-assignments.csv\nallot explain --dir examples/s3 c00003   # a Moscow VIP government client\n```\n\n\
Sales of the first half of 2026 (`deals.csv`, amounts in kopecks) are credited to the seller of\n\
record on the sale date (`[credit]` in `scheme.toml`; S1.2, issue #6). Who carries what, who\n\
contributed what, and how balanced the distribution is:\n\n\
```sh\nallot sync   --dir examples/s3 --date 2026-01-12 --db /tmp/s3.db\n\
allot report --db /tmp/s3.db --from 2026-01-12 --to 2026-06-30 -o report.xlsx --revenue-chart revenue.svg\n```\n\n\
```\nrole sales\n  employee                     clients        potential  workload  deals     revenue credit        overlay realisation\n  ivanov Иванов Иван               491      375 580 861       844    489       3 522 496,75           0,00       0.94%\n  …\n  balance over the employees: clients max/min 81.83 cv 0.695 gini 0.360 · potential max/min 3.40 cv 0.323 gini 0.143 · workload max/min 29.10 cv 0.638 gini 0.328\n```\n\n\
![Revenue credited against potential, one point per sales employee](revenue-2026h1.svg)\n\n\
Clients are generated by `allot example s3 --out examples/s3` (seed 2026) over Russia's towns.\n\
Place names, regions and populations: GeoNames (geonames.org), CC BY 4.0.\n";

const S4_SERVICE_README: &str = "# Example S4.1: sales manager and service engineer\n\n\
Every client (a hospital or clinic) has two responsible people at once: a sales manager from a pool\n\
balanced by potential, and a service engineer — the MRI-certified one for MRI scanners, otherwise the\n\
owner of the client's territory (west or east of 60°E).\n\n\
```sh\nallot assign  --dir examples/s4-service\nallot explain --dir examples/s4-service h001\n```\n\n\
Towns: GeoNames (geonames.org), CC BY 4.0.\n";

const S4_DESK_README: &str = "# Example S4.4: the phone desk\n\n\
One employee, Сидорова, is the *seller* for one-off clients buying for less than 1000 and the\n\
*administrator* for every other deal. The files are `;`-separated with decimal commas, as Excel\n\
saves them in Russia.\n\n\
```sh\nallot assign  --dir examples/s4-phone-desk --deals-out /tmp/deal-assignments.csv\nallot explain --dir examples/s4-phone-desk --deal d003\n```\n";

/// The files of an example: (name, content).
pub fn files(name: &str, clients: Option<usize>, seed: u64) -> Result<Vec<(&'static str, String)>, String> {
    Ok(match name {
        "s3" => {
            let s3 = s3_clients(clients.unwrap_or(2_000), seed);
            vec![
                ("README.md", S3_README.into()),
                ("scheme.toml", s3_scheme(&s3)?),
                ("employees.csv", S3_EMPLOYEES.into()),
                ("deals.csv", s3_deals(&s3, seed)?),
                ("clients.csv", s3),
            ]
        }
        "s4-service" => vec![
            ("README.md", S4_SERVICE_README.into()),
            ("scheme.toml", s4_service_scheme()),
            ("employees.csv", S4_SERVICE_EMPLOYEES.into()),
            ("clients.csv", s4_service_clients(clients.unwrap_or(120), seed)),
        ],
        "s4-phone-desk" => vec![
            ("README.md", S4_DESK_README.into()),
            ("scheme.toml", s4_desk_scheme()),
            ("employees.csv", S4_DESK_EMPLOYEES.into()),
            ("clients.csv", S4_DESK_CLIENTS.into()),
            ("deals.csv", S4_DESK_DEALS.into()),
        ],
        other => return Err(format!("unknown example `{other}`; expected s3, s4-service or s4-phone-desk")),
    })
}

pub fn run(a: &ExampleArgs) -> Result<(), String> {
    write_example(&a.name, &a.out, a.clients, a.seed)
}

pub fn write_example(name: &str, out: &Path, clients: Option<usize>, seed: u64) -> Result<(), String> {
    let files = files(name, clients, seed)?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (f, content) in files {
        let p = out.join(f);
        std::fs::write(&p, content).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    eprintln!("wrote example {name} to {}", out.display());
    Ok(())
}
