//! The field-day demo: the whole system, end to end, in one process.
//!
//! An embedded relay on 127.0.0.1 (temporary SQLite store); the office
//! desktop (admin) and three staff phones enrolled by QR; offline work at a
//! community hall, in the forest and along the river; reconnection, sync and
//! merge; the tax form purged on the hall tablet once acknowledged; the hall
//! tablet lost, revoked, wiped, its receipt verified, the key rotated;
//! exports written from the desktop; and finally every device and relay file
//! scanned for the canary strings planted in the records.
mod photo;
pub mod scan;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldvault::model::{
    BearSighting, ConfirmableCount, DamageReport, GeoPoint, HouseDamageLevel, HouseSurvey,
    Narrative, ReporterContact, SiteRecord, SiteTarget, Status, TaxAssist,
};
use fieldvault::sample_data as s;
use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::engine::{SyncEngine, SyncReport};
use fieldvault::sync::{admin, enrollment};
use fieldvault::{Argon2Params, PassphraseKeyProvider, Vault, VaultOptions};
use serde_json::json;

use crate::cli::{DemoArgs, ExportFormat};
use crate::error::{CliError, CliResult, ExitCode};
use crate::export::{self, Documents};
use crate::output::{line, print_json};
use crate::vault_access::{keep_everything, runtime};

/// Prints the narrative (not in JSON mode) and collects the figures.
struct Narrator {
    json: bool,
    step: usize,
    started: Instant,
    facts: serde_json::Map<String, serde_json::Value>,
}

impl Narrator {
    fn step(&mut self, title: &str) {
        self.step += 1;
        if !self.json {
            line(format!(
                "\n[{:>4.1}s] {}. {title}",
                self.started.elapsed().as_secs_f64(),
                self.step
            ));
        }
    }

    fn say(&self, text: impl AsRef<str>) {
        if !self.json {
            line(format!("        {}", text.as_ref()));
        }
    }

    fn fact(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.facts.insert(key.to_owned(), value.into());
    }
}

/// One device: its vault on disk and its sync engine.
struct Device {
    label: &'static str,
    dir: PathBuf,
    vault: Arc<Vault>,
    engine: Option<Arc<SyncEngine>>,
}

impl Device {
    fn engine(&self) -> CliResult<&Arc<SyncEngine>> {
        self.engine
            .as_ref()
            .ok_or_else(|| CliError::internal(format!("{} is not enrolled", self.label)))
    }

    async fn sync(&self) -> CliResult<SyncReport> {
        Ok(self.engine()?.sync_once().await?)
    }
}

/// The demo's passphrases are made up per run; the demo devices use the real
/// Argon2id cost (64 MiB, 3 passes), as phones and desktops do.
fn provider(label: &str, run_tag: &str) -> PassphraseKeyProvider {
    PassphraseKeyProvider::with_params(
        format!("demo passphrase {label} {run_tag}"),
        Argon2Params::default(),
    )
}

fn create_device(
    root: &Path,
    label: &'static str,
    staff: &str,
    desktop: bool,
    tag: &str,
) -> CliResult<Device> {
    let dir = root.join("devices").join(label);
    let mut options = VaultOptions::new(staff);
    if desktop {
        options.retention = keep_everything();
    }
    // Phones keep the default rules: tax-help forms are purged once acknowledged.
    let vault = Arc::new(Vault::create(&dir, &provider(label, tag), options)?);
    Ok(Device {
        label,
        dir,
        vault,
        engine: None,
    })
}

/// Canary strings: unique per run, alternately ASCII and Japanese.
struct Canaries {
    tag: String,
    all: Vec<String>,
    /// Those that must never appear in an export either (tax form, reporter, My Number).
    never_exported: Vec<String>,
}

impl Canaries {
    fn make(&mut self, what: &str, exported: bool) -> String {
        let n = self.all.len() + 1;
        let c = if n % 2 == 0 {
            format!("CANARY-{what}-{}-{n:02}", self.tag)
        } else {
            format!("カナリア{what}{}第{n:02}号", self.tag)
        };
        self.all.push(c.clone());
        if !exported {
            self.never_exported.push(c.clone());
        }
        c
    }
}

pub fn run(json: bool, args: &DemoArgs) -> CliResult<()> {
    let started = Instant::now();
    let temp = tempfile::Builder::new()
        .prefix("fieldvault-demo-")
        .tempdir()
        .map_err(|e| {
            CliError::new(
                ExitCode::Io,
                format!("cannot create a temporary directory: {e}"),
            )
        })?;
    let root = match &args.out {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(CliError::usage(format!(
                    "{} is not empty: give a new or empty directory",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| CliError::io("cannot create", dir, e))?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let mut n = Narrator {
        json,
        step: 0,
        started,
        facts: serde_json::Map::new(),
    };
    if !json {
        line("FieldVault field day — one relay, an office desktop and three staff phones");
        line(format!("(files in {})", root.display()));
    }
    let rt = runtime()?;
    let scan = rt.block_on(field_day(&root, &mut n))?;
    let seconds = started.elapsed().as_secs_f64();
    n.fact("seconds", (seconds * 10.0).round() / 10.0);
    n.fact("scan", serde_json::to_value(&scan).unwrap_or_default());
    n.fact("directory", root.display().to_string());
    let clean = scan.hits.is_empty();
    n.fact("no_plaintext", clean);
    if json {
        print_json(&serde_json::Value::Object(std::mem::take(&mut n.facts)))?;
    } else if clean {
        line(format!(
            "\nDone in {seconds:.1} s: no canary string found in plaintext in any device or relay file."
        ));
        if args.out.is_none() {
            line("(temporary files removed; use --out DIR to keep them)");
        }
    }
    if !clean {
        return Err(CliError::new(
            ExitCode::PlaintextFound,
            format!(
                "{} canary hit(s) in plaintext: {}",
                scan.hits.len(),
                scan.hits
                    .iter()
                    .map(|h| h.file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

async fn pair(admin: &Device, device: &mut Device, n: &Narrator) -> CliResult<()> {
    let config = ClientConfig::new(
        admin
            .vault
            .sync_settings()?
            .map(|s| s.relay_url)
            .unwrap_or_default(),
    );
    let (pairing, qr) =
        enrollment::start_pairing(&admin.vault, &config, Duration::from_secs(300)).await?;
    let qr_text = qr.encode();
    let (joined, completed) = tokio::join!(
        enrollment::join_workspace(
            &device.vault,
            &qr_text,
            device.label,
            Duration::from_secs(30),
            None
        ),
        enrollment::complete_pairing(&admin.vault, &config, pairing, Duration::from_secs(30))
    );
    let settings = joined?;
    let id = completed?;
    device.engine = Some(SyncEngine::new(
        device.vault.clone(),
        ClientConfig::for_enrolment(&settings),
    )?);
    n.say(format!(
        "{:<7} scanned the QR ({} characters, single use) → enrolled as {}",
        device.label,
        qr_text.len(),
        short(&id)
    ));
    Ok(())
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

async fn field_day(root: &Path, n: &mut Narrator) -> CliResult<scan::ScanReport> {
    let tag: String = (0..6)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    let mut c = Canaries {
        tag: tag.clone(),
        all: Vec::new(),
        never_exported: Vec::new(),
    };

    // 1. The relay.
    n.step("Starting the relay on 127.0.0.1 (temporary SQLite store)");
    let relay_dir = root.join("relay");
    let operator_token: String = (0..40)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    let relay = fieldvault_relay::start(fieldvault_relay::RelayConfig::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        fieldvault_relay::Backend::Sqlite(relay_dir.clone()),
        operator_token.clone(),
    ))
    .await
    .map_err(|e| CliError::new(ExitCode::Network, format!("the relay did not start: {e}")))?;
    let url = format!("http://{}", relay.local_addr());
    n.say(format!(
        "relay listening on {url}; it stores ciphertext only"
    ));
    n.fact("relay", url.clone());

    // 2. The office desktop and the workspace.
    n.step("The office desktop creates the workspace (it is the admin device)");
    let t = Instant::now();
    let mut office = create_device(root, "office", "office-001", true, &tag)?;
    n.say(format!(
        "desktop vault sealed with Argon2id (64 MiB, 3 passes) in {} ms; keeps every record",
        t.elapsed().as_millis()
    ));
    let office_config = ClientConfig::new(url.clone());
    let settings =
        enrollment::create_workspace(&office.vault, &office_config, &operator_token, 72).await?;
    office.engine = Some(SyncEngine::new(
        office.vault.clone(),
        office_config.clone(),
    )?);
    n.say(format!(
        "workspace {} created; key epoch 1 generated on the desktop, never sent",
        short(&settings.workspace_id)
    ));

    // 3. Phones enroll by QR.
    n.step("Three staff phones enroll by scanning the desktop's QR code");
    let mut hall = create_device(root, "hall", "staff-0012", false, &tag)?;
    let mut forest = create_device(root, "forest", "staff-0031", false, &tag)?;
    let mut river = create_device(root, "river", "staff-0047", false, &tag)?;
    for d in [&mut hall, &mut forest, &mut river] {
        pair(&office, d, n).await?;
    }

    // 4. Morning at the office: the damage report exists on the river and forest phones.
    n.step("Morning: the river team opens 第1報 of the flood damage report; everyone syncs");
    let mut damage = s::damage_report(river.vault.new_envelope::<DamageReport>(s::MUNICIPALITY));
    damage.summary.disaster_name = format!("令和7年8月 豊平川大雨 {}", c.make("災害名", true));
    damage.summary.remarks = Narrative::from(format!("避難所2か所開設。{}", c.make("備考", true)));
    damage.sites[0].address = format!("豊平区平岸2条3丁目 {}", c.make("住所", true));
    let damage_id = river.vault.insert(damage)?;
    for d in [&river, &forest, &hall, &office] {
        d.sync().await?;
    }
    n.say(format!(
        "damage report {} is on every device",
        short(&damage_id.to_string())
    ));

    // 5. Offline work.
    n.step("Connectivity drops. Offline, each phone keeps working");
    for d in [&hall, &forest, &river] {
        d.engine()?.notify_connectivity(false);
    }
    // 5a. Tax help at the community hall.
    let mut tax = s::tax_assist(hall.vault.new_envelope::<TaxAssist>(s::MUNICIPALITY));
    tax.venue = "北区民センター 2階 会議室".into();
    tax.taxpayer.name = c.make("氏名", false);
    tax.taxpayer.address = c.make("住所", false);
    tax.notes = Narrative::from(c.make("メモ", false));
    let tax_id = hall.vault.insert(tax)?;
    let my_number = "123456789018";
    c.all.push(my_number.to_owned());
    c.never_exported.push(my_number.to_owned());
    let masked = hall.vault.set_my_number(&tax_id, my_number)?;
    hall.vault.set_status(&tax_id, Status::Submitted)?;
    n.say(format!(
        "hall:   確定申告 form filled with the resident (My Number shown as {masked}, deleted when filed); status submitted"
    ));
    // 5b. A bear in the forest, with a photo.
    let mut bear = s::bear_sighting(forest.vault.new_envelope::<BearSighting>(s::MUNICIPALITY));
    bear.narrative = Narrative::from(format!(
        "早朝、親子グマが果樹園の北側を横断。{}",
        c.make("状況", true)
    ));
    bear.place_description = format!("南区藤野 果樹園の北側 {}", c.make("場所", true));
    bear.reporter_contact = Some(ReporterContact {
        name: c.make("通報者", false),
        phone: "090-0000-0000".into(),
        note: c.make("連絡", false),
    });
    let bear_id = forest.vault.insert(bear)?;
    let picture = photo::load();
    let photo_ref = forest.vault.ingest_photo(&bear_id, &picture.bytes, None)?;
    n.say(format!(
        "forest: ヒグマ sighting recorded with a photo ({}; stored {}×{}, EXIF stripped, sealed)",
        picture.source, photo_ref.width, photo_ref.height
    ));
    // 5c. Two phones edit the same damage report.
    river.vault.update::<DamageReport, _>(&damage_id, |d| {
        d.summary.casualties.slightly_injured = ConfirmableCount::known(4);
        d.summary.housing.flooded_above_floor.buildings = ConfirmableCount::known(14);
        d.summary.remarks = Narrative::from(format!(
            "{} 河川水位は低下傾向。",
            d.summary.remarks.as_str()
        ));
    })?;
    let river_note = c.make("川班", true);
    river.vault.update::<DamageReport, _>(&damage_id, |d| {
        d.summary.remarks = Narrative::from(format!("{}{river_note}", d.summary.remarks.as_str()));
    })?;
    let forest_site_address = format!("豊平区平岸3条1丁目 {}", c.make("住所", true));
    forest.vault.update::<DamageReport, _>(&damage_id, |d| {
        d.summary.housing.flooded_below_floor.buildings = ConfirmableCount::unconfirmed(43);
        d.summary.remarks =
            Narrative::from(format!("【現地確認済】{}", d.summary.remarks.as_str()));
        d.sites.push(SiteRecord {
            id: uuid::Uuid::new_v4(),
            target_type: SiteTarget::House,
            address: forest_site_address.clone(),
            position: Some(GeoPoint::new(43.0372, 141.3755)),
            passable: Some(true),
            photo_ids: Vec::new(),
            house_survey: Some(HouseSurvey {
                damage_level: HouseDamageLevel::FloodedBelowFloor,
                flood_depth_cm: Some(20),
                notes: "床下20cm".into(),
            }),
            notes: Narrative::default(),
        });
    })?;
    n.say("river:  第1報: 軽傷 4, 床上浸水 14 棟, remarks extended");
    n.say(
        "forest: same report: 床下浸水 43 棟 (未確認), a second surveyed house, remarks prefixed",
    );
    let pending: u64 = [&hall, &forest, &river]
        .iter()
        .map(|d| d.vault.outbox_size().map(|(c, _)| c).unwrap_or(0))
        .sum();
    n.say(format!(
        "{pending} change sets wait in the phones' sealed outboxes"
    ));

    // 6. Back online.
    n.step("Connectivity returns: every device syncs, concurrent edits merge");
    for d in [&hall, &forest, &river] {
        d.engine()?.notify_connectivity(true);
    }
    let mut hall_report = SyncReport::default();
    for round in 0..2 {
        for d in [&hall, &forest, &river, &office] {
            let r = d.sync().await?;
            if round == 0 && d.label == "hall" {
                hall_report = r.clone();
            }
            if round == 0 {
                n.say(format!(
                    "{:<7} sent {:>2}, received {:>2}, photos up {} / down {}",
                    d.label, r.pushed, r.pulled, r.photos_uploaded, r.photos_downloaded
                ));
            }
        }
    }
    let merged_office = office.vault.get::<DamageReport>(&damage_id)?;
    for d in [&forest, &river] {
        if d.vault.get::<DamageReport>(&damage_id)? != merged_office {
            return Err(CliError::internal(format!(
                "the {} phone and the office disagree after sync",
                d.label
            )));
        }
    }
    let sm = &merged_office.summary;
    let count = |c: ConfirmableCount, unit: &str| {
        format!(
            "{}{unit}{}",
            c.count.known().map_or("不明".into(), |v| v.to_string()),
            if c.unconfirmed { " (未確認)" } else { "" }
        )
    };
    n.say(format!(
        "merged 第1報 (identical on office, river, forest): 軽傷 {}, 床上浸水 {}, 床下浸水 {}, {} sites",
        count(sm.casualties.slightly_injured, " 人"),
        count(sm.housing.flooded_above_floor.buildings, " 棟"),
        count(sm.housing.flooded_below_floor.buildings, " 棟"),
        merged_office.sites.len()
    ));
    let remarks_merged = sm.remarks.as_str().starts_with("【現地確認済】")
        && sm.remarks.as_str().contains("河川水位は低下傾向。");
    n.say(format!(
        "remarks merged character by character: both edits kept = {remarks_merged}"
    ));
    if merged_office.sites.len() != 2 || !remarks_merged {
        return Err(CliError::internal(
            "the concurrent edits did not merge as expected",
        ));
    }
    let office_photo =
        office
            .vault
            .photo(&bear_id, &photo_ref.id, fieldvault::PhotoVariant::Display)?;
    n.say(format!(
        "office has the bear sighting and its photo ({} bytes, SHA-256 verified)",
        office_photo.len()
    ));
    n.fact("merged_sites", merged_office.sites.len());
    n.fact("photo_bytes", office_photo.len());

    // 7. Retention on the hall tablet.
    n.step("Retention: the hall tablet purges the tax form once the relay acknowledged it");
    let hall_has_tax = hall.vault.get_any(&tax_id).is_ok();
    let office_has_tax = office.vault.get::<TaxAssist>(&tax_id).is_ok();
    n.say(format!(
        "hall tablet: {} purged in its sync; tax form still on the tablet = {hall_has_tax}",
        hall_report.purged
    ));
    n.say(format!(
        "office desktop (keeps everything): tax form present = {office_has_tax}; My Number on the desktop = {} (it never leaves the tablet)",
        office.vault.my_number_masked(&tax_id)?.is_some()
    ));
    n.fact("hall_purged", hall_report.purged);
    if hall_has_tax || !office_has_tax {
        return Err(CliError::internal(
            "the tax form was not purged on the hall tablet as expected",
        ));
    }

    // 8. The hall tablet is lost.
    n.step("The hall tablet is left on the bus: revoke, wipe, verify, rotate");
    let lost_id = hall.vault.device_id();
    let epoch = admin::revoke_device(&office.vault, &office_config, &lost_id).await?;
    n.say(format!(
        "desktop revoked {}; workspace key rotated to epoch {epoch} (wrapped only for forest and river)",
        short(&lost_id)
    ));
    let outcome = hall.engine()?.sync_once().await;
    let refused = matches!(outcome, Err(fieldvault::Error::Revoked));
    let left = scan::files_below(&hall.dir)?.len();
    n.say(format!(
        "the tablet comes online: refused = {refused}; it shredded its keys and removed its files ({left} left)"
    ));
    let devices = admin::list_devices(&office.vault, &office_config).await?;
    let receipt_ok = devices.devices.iter().any(|d| {
        d.keys.device_id == lost_id
            && d.revoked_at_ms.is_some()
            && crate::commands::admin::receipt_verified(d, &settings.workspace_id) == Some(true)
    });
    n.say(format!(
        "desktop checked the tablet's signed wipe receipt: verified = {receipt_ok}"
    ));
    n.fact("revoked_epoch", epoch);
    n.fact("wipe_receipt_verified", receipt_ok);
    if !refused || left != 0 || !receipt_ok {
        return Err(CliError::internal(
            "the lost tablet was not refused, wiped and verified",
        ));
    }
    // Work goes on across the rotation.
    forest.vault.update::<BearSighting, _>(&bear_id, |b| {
        b.response_taken = Narrative::from("パトロール実施、注意看板設置、小学校へ連絡");
    })?;
    forest.sync().await?;
    river.sync().await?;
    office.sync().await?;
    let epochs = river
        .vault
        .workspace_keys(&settings.workspace_id)?
        .current_epoch()
        .unwrap_or(0);
    n.say(format!(
        "forest and river keep working on epoch {epochs}; the office received the forest's latest edit = {}",
        office.vault.get::<BearSighting>(&bear_id)?.response_taken.as_str().contains("小学校")
    ));

    // 9. Exports.
    n.step("The office exports for the prefecture, GBIF and the FDMA");
    let export_dir = root.join("exports");
    std::fs::create_dir_all(&export_dir)
        .map_err(|e| CliError::io("cannot create", &export_dir, e))?;
    let docs = Documents::load(&office.vault, &indicatif::ProgressBar::hidden())?;
    let mut exports = Vec::new();
    for format in ExportFormat::EACH {
        let path = export_dir.join(format.file_name());
        let r = export::export_one(
            &office.vault,
            &docs,
            format,
            Some(&path),
            &indicatif::ProgressBar::hidden(),
        )?;
        n.say(format!(
            "{:<15} {:>2} record(s) → exports/{}",
            r.format,
            r.records,
            format.file_name()
        ));
        exports.push(r);
    }
    let (log, problems) = office.vault.audit_log_verified()?;
    let audited = log
        .iter()
        .filter(|e| e.action == fieldvault::model::AuditAction::Exported)
        .count();
    let intact = problems.is_empty();
    n.say(format!(
        "{audited} export entries in the desktop's audit log (format and document, no values); chain intact = {intact}"
    ));
    n.fact(
        "exports",
        serde_json::to_value(&exports).unwrap_or_default(),
    );
    n.fact("audited_exports", audited);

    // 10. The scan.
    n.step("Scanning every device and relay file for the canary strings");
    relay
        .shutdown()
        .await
        .map_err(|e| CliError::internal(format!("relay shutdown: {e}")))?;
    for d in [&office, &forest, &river] {
        d.vault.checkpoint()?;
    }
    let dirs = vec![root.join("devices"), relay_dir];
    let report = scan::scan(&dirs, &c.all)?;
    n.say(format!(
        "{} canary strings (UTF-8, UTF-16LE, UTF-16BE) × {} files ({} KiB): {} found",
        report.canaries,
        report.files,
        report.bytes / 1024,
        report.hits.len()
    ));
    let export_check = scan::scan(&[export_dir], &c.never_exported)?;
    n.say(format!(
        "exports are plaintext by design; the tax form, My Number and reporter contact appear in none: {}",
        export_check.hits.is_empty()
    ));
    if !export_check.hits.is_empty() {
        return Err(CliError::new(
            ExitCode::PlaintextFound,
            "a never-exported value (tax form, My Number or reporter) appears in an export",
        ));
    }
    n.fact(
        "ids",
        json!({
            "tax_form": tax_id.to_string(),
            "bear": bear_id.to_string(),
            "damage": damage_id.to_string(),
        }),
    );
    Ok(report)
}
