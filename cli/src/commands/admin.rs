//! Commands that talk to the relay: enroll, sync, workspace, device, key.
use std::time::{Duration, Instant};

use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::engine::SyncEngine;
use fieldvault::sync::wire::{DeviceInfo, Role};
use fieldvault::sync::{admin, enrollment};
use serde_json::json;

use crate::cli::{
    EnrollArgs, Global, PairArgs, RevokeArgs, RootCertificateArgs, WorkspaceCreateArgs,
};
use crate::error::{CliError, CliResult, ExitCode};
use crate::output::{line, print_json, spinner};
use crate::vault_access::{self, client_config, runtime, OPERATOR_TOKEN_ENV};

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// Admin commands are refused on a member device (exit 8), before any request.
fn require_admin(vault: &fieldvault::Vault) -> CliResult<()> {
    match vault.sync_settings()? {
        Some(s) if s.role == Role::Admin => Ok(()),
        Some(_) => Err(CliError::new(
            ExitCode::Refused,
            "only the workspace admin device can do this (this vault is a member)",
        )),
        None => Err(CliError::new(
            ExitCode::Vault,
            "this vault is not enrolled in a workspace (use `workspace create` or `enroll`)",
        )),
    }
}

fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

pub fn workspace_create(g: &Global, args: &WorkspaceCreateArgs) -> CliResult<()> {
    let vault = vault_access::open(g)?;
    let token = vault_access::secret(OPERATOR_TOKEN_ENV, "Relay operator token: ")?;
    let mut config = ClientConfig::new(args.relay.trim_end_matches('/'));
    config.root_certificate_pem = vault_access::root_certificate(args.root_certificate.as_deref())?;
    let rt = runtime()?;
    let pb = spinner(g.json, "creating the workspace on the relay");
    let settings = rt.block_on(enrollment::create_workspace(
        &vault,
        &config,
        token.as_str(),
        args.lease_hours,
    ));
    pb.finish_and_clear();
    let settings = settings?;
    if g.json {
        return print_json(&json!({
            "workspace_id": settings.workspace_id,
            "relay": settings.relay_url,
            "admin_device_id": vault.device_id(),
            "epoch": 1,
        }));
    }
    line(format!(
        "Workspace {} created on {}",
        settings.workspace_id, settings.relay_url
    ));
    line("This desktop is its admin device. Next: `fieldvault device pair` for each phone.");
    Ok(())
}

pub fn device_pair(g: &Global, args: &PairArgs) -> CliResult<()> {
    let AdminSession {
        vault, config, rt, ..
    } = admin_session(g)?;
    let (pairing, qr) = rt.block_on(enrollment::start_pairing(
        &vault,
        &config,
        Duration::from_secs(args.timeout.max(60)),
    ))?;
    let qr_text = qr.encode();
    if let Some(path) = &args.qr_out {
        write_private(path, qr_text.as_bytes())?;
    }
    // The QR text is what the admin's screen shows: print it at once, on its
    // own line, so the other device (or a script) can take it while we wait.
    if g.json {
        line(json!({ "event": "qr", "qr": qr_text }).to_string());
    } else {
        line("Enrollment QR code (single use; show it only to the new device):");
        if let Some(code) = qr_block(&qr_text) {
            line(code);
        }
        line("The same as text (for `fieldvault enroll --qr`):");
        line(&qr_text);
        eprintln!("On the new device: fieldvault enroll --qr '<the text above>'");
    }
    let pb = spinner(g.json, "waiting for the device to enroll");
    let result = rt.block_on(enrollment::complete_pairing(
        &vault,
        &config,
        pairing,
        Duration::from_secs(args.timeout),
    ));
    pb.finish_and_clear();
    if let Some(path) = &args.qr_out {
        // Used or expired either way: do not leave the secret lying around.
        let _ = std::fs::remove_file(path);
    }
    let device_id = match result {
        Ok(id) => id,
        Err(e) => {
            let e = CliError::from(e);
            if g.json {
                // JSON lines: the error is this command's last event.
                line(json!({ "event": "error", "error": e.to_json() }).to_string());
                return Err(e.reported());
            }
            return Err(e);
        }
    };
    if g.json {
        line(json!({ "event": "paired", "device_id": device_id }).to_string());
    } else {
        line(format!(
            "Paired device {device_id}; it has the workspace keys."
        ));
    }
    Ok(())
}

/// The QR code as Unicode half blocks, light on dark (terminal colours).
fn qr_block(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Writes a file readable only by the owner (the QR text holds a secret),
/// atomically: a reader never sees it half-written.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> CliResult<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let partial = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&partial)
        .map_err(|e| CliError::io("cannot create", &partial, e))?;
    f.write_all(bytes)
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| CliError::io("cannot write", &partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| CliError::io("cannot create", path, e))
}

pub fn enroll(g: &Global, args: &EnrollArgs) -> CliResult<()> {
    let qr = match (&args.qr, &args.qr_file) {
        (Some(text), _) => text.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| CliError::io("cannot read", path, e))?
            .trim()
            .to_owned(),
        (None, None) => return Err(CliError::usage("give --qr TEXT or --qr-file FILE")),
    };
    let vault = vault_access::open(g)?;
    let rt = runtime()?;
    let pb = spinner(
        g.json,
        "enrolling and waiting for the admin to deliver the keys",
    );
    let result = rt.block_on(enrollment::join_workspace(
        &vault,
        &qr,
        &args.name,
        Duration::from_secs(args.timeout),
        vault_access::root_certificate(args.root_certificate.as_deref())?,
    ));
    pb.finish_and_clear();
    let settings = result?;
    if g.json {
        return print_json(&json!({
            "workspace_id": settings.workspace_id,
            "relay": settings.relay_url,
            "device_id": vault.device_id(),
            "role": role_name(settings.role),
        }));
    }
    line(format!(
        "Enrolled in workspace {} as device {}. Run `fieldvault sync`.",
        settings.workspace_id,
        vault.device_id()
    ));
    Ok(())
}

pub fn sync(g: &Global) -> CliResult<()> {
    let vault = vault_access::open(g)?;
    let config = client_config(&vault)?;
    let engine = SyncEngine::new(vault.clone(), config)?;
    let rt = runtime()?;
    let pb = spinner(g.json, "syncing");
    let watch = {
        let mut rx = engine.subscribe();
        let pb = pb.clone();
        rt.spawn(async move {
            while rx.changed().await.is_ok() {
                let transfer = rx.borrow().current_transfer.clone();
                if let Some(t) = transfer {
                    pb.set_message(t);
                }
            }
        })
    };
    let result = rt.block_on(engine.sync_once());
    watch.abort();
    pb.finish_and_clear();
    let report = result?;
    if g.json {
        return print_json(&json!({ "report": report }));
    }
    line(format!(
        "Synced: {} sent, {} received, {} photo(s) up, {} photo(s) down, {} purged, {} rejected",
        report.pushed,
        report.pulled,
        report.photos_uploaded,
        report.photos_downloaded,
        report.purged,
        report.rejected
    ));
    Ok(())
}

/// `None`: no wipe receipt; otherwise whether its signature verifies.
pub(crate) fn receipt_verified(d: &DeviceInfo, ws: &str) -> Option<bool> {
    d.wipe_receipt
        .as_ref()
        .map(|_| admin::verified_wipe_ms(d, ws).is_some())
}

/// An unlocked admin vault, its relay configuration, workspace and runtime.
struct AdminSession {
    vault: std::sync::Arc<fieldvault::Vault>,
    config: ClientConfig,
    ws: String,
    rt: tokio::runtime::Runtime,
}

fn admin_session(g: &Global) -> CliResult<AdminSession> {
    let vault = vault_access::open(g)?;
    require_admin(&vault)?;
    let config = client_config(&vault)?;
    let ws = vault
        .sync_settings()?
        .map(|s| s.workspace_id)
        .unwrap_or_default();
    Ok(AdminSession {
        vault,
        config,
        ws,
        rt: runtime()?,
    })
}

fn device_json(d: &DeviceInfo, ws: &str) -> serde_json::Value {
    let receipt_valid = receipt_verified(d, ws);
    json!({
        "device_id": d.keys.device_id,
        "name": d.device_name,
        "role": role_name(d.role),
        "app_version": d.app_version,
        "enrolled_at": ms_to_rfc3339(d.enrolled_at_ms),
        "last_seen_at": d.last_seen_ms.map(ms_to_rfc3339),
        "revoked_at": d.revoked_at_ms.map(ms_to_rfc3339),
        "wipe_receipt": d.wipe_receipt.is_some(),
        "wipe_receipt_valid": receipt_valid,
        "key_epochs": d.key_epochs,
    })
}

pub fn device_list(g: &Global) -> CliResult<()> {
    let AdminSession {
        vault,
        config,
        ws,
        rt,
    } = admin_session(g)?;
    let list = rt.block_on(admin::list_devices(&vault, &config))?;
    let devices: Vec<_> = list.devices.iter().map(|d| device_json(d, &ws)).collect();
    if g.json {
        return print_json(&json!({
            "workspace_id": ws,
            "current_epoch": list.current_epoch,
            "lease_hours": list.lease_hours,
            "devices": devices,
        }));
    }
    line(format!("Workspace {ws}, key epoch {}", list.current_epoch));
    for d in &list.devices {
        let state = match (d.revoked_at_ms, receipt_verified(d, &ws)) {
            (None, _) => "active",
            (Some(_), None) => "revoked, not yet wiped",
            (Some(_), Some(true)) => "revoked, wipe receipt verified",
            (Some(_), Some(false)) => "revoked, wipe receipt INVALID",
        };
        line(format!(
            "{}  {:<6} {:<20} {}",
            d.keys.device_id,
            role_name(d.role),
            d.device_name,
            state
        ));
    }
    Ok(())
}

pub fn device_revoke(g: &Global, args: &RevokeArgs) -> CliResult<()> {
    let AdminSession {
        vault,
        config,
        ws,
        rt,
    } = admin_session(g)?;
    let epoch = rt.block_on(admin::revoke_device(&vault, &config, &args.device_id))?;
    let mut wiped = None;
    if let Some(secs) = args.wait_wipe {
        let pb = spinner(g.json, "waiting for the device's wipe receipt");
        let deadline = Instant::now() + Duration::from_secs(secs);
        wiped = Some(false);
        loop {
            let list = rt.block_on(admin::list_devices(&vault, &config))?;
            let verified = list.devices.iter().any(|d| {
                d.keys.device_id == args.device_id && receipt_verified(d, &ws) == Some(true)
            });
            if verified {
                wiped = Some(true);
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        pb.finish_and_clear();
    }
    let late = (wiped == Some(false)).then(|| {
        CliError::new(
            ExitCode::Network,
            "the device did not report its wipe in time (it stays revoked)",
        )
    });
    if g.json {
        print_json(&json!({
            "revoked": args.device_id,
            "epoch": epoch,
            "wipe_receipt_verified": wiped,
            "error": late.as_ref().map(CliError::to_json),
        }))?;
    } else {
        line(format!(
            "Revoked {}; the workspace key rotated to epoch {epoch}.",
            args.device_id
        ));
        match wiped {
            Some(true) => line("The device wiped itself; its signed receipt is verified."),
            Some(false) => line("No wipe receipt yet: the device has not been online since."),
            None => line("It wipes itself the next time it contacts the relay (`device list` shows the receipt)."),
        }
    }
    match late {
        Some(e) if g.json => Err(e.reported()),
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub fn workspace_root_certificate(g: &Global, args: &RootCertificateArgs) -> CliResult<()> {
    let vault = vault_access::open(g)?;
    let pem = vault_access::root_certificate(args.file.as_deref())?;
    let custom = pem.is_some();
    vault.set_relay_root_certificate(pem)?;
    if g.json {
        return print_json(&json!({ "custom_root_certificate": custom }));
    }
    line(if custom {
        "The relay's root certificate is replaced; the next sync trusts it."
    } else {
        "Only the system's root certificates are trusted for the relay from now on."
    });
    Ok(())
}

pub fn key_rotate(g: &Global) -> CliResult<()> {
    let AdminSession {
        vault, config, rt, ..
    } = admin_session(g)?;
    let epoch = rt.block_on(admin::rotate_key(&vault, &config))?;
    if g.json {
        return print_json(&json!({ "epoch": epoch }));
    }
    line(format!(
        "The workspace key rotated to epoch {epoch}; devices fetch it on their next sync."
    ));
    Ok(())
}
