//! A relay behind TLS whose certificate comes from a town's private CA, as on
//! a closed government network: devices given the CA's certificate at
//! enrolment connect, and keep trusting it for every later sync (it is
//! recorded with the enrolment); without it the TLS handshake is refused and
//! nothing is enrolled. When the town replaces its CA, recording the new
//! certificate in the vault is enough: a running engine follows it.
use std::net::SocketAddr;
use std::sync::Arc;

use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::engine::SyncEngine;
use fieldvault::sync::enrollment;
use fieldvault::Error;
use fieldvault_integration::{
    found_workspace, insert_sample, pair_device, Device, RelayProcess, OPERATOR_TOKEN,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A CA of our own and a server certificate it signed for 127.0.0.1.
struct PrivateCa {
    ca_pem: String,
    server: Arc<ServerConfig>,
}

fn private_ca() -> PrivateCa {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Town private CA (test)");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let key = rcgen::KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");
    let server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
    PrivateCa {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// Terminates TLS on 127.0.0.1 and forwards the plaintext to the relay, as a
/// town's reverse proxy would, with the certificate `served` holds now; a new
/// certificate closes the connections open under the old one, as a proxy's
/// reload does. Runs until the test's runtime stops.
async fn tls_front(relay_url: &str, served: watch::Receiver<Arc<ServerConfig>>) -> SocketAddr {
    let relay = relay_url
        .strip_prefix("http://")
        .expect("plain relay URL")
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut served = served.clone();
            let acceptor = TlsAcceptor::from(served.borrow_and_update().clone());
            let relay = relay.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut upstream) = TcpStream::connect(&relay).await {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream) => {}
                        _ = served.changed() => {}
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_enrolled_with_the_private_ca_sync_through_tls_and_others_are_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let ca = private_ca();
    let (_serve, served) = watch::channel(ca.server.clone());
    let url = format!("https://{}", tls_front(&relay.url, served).await);
    let with_ca = |device: &mut Device| {
        device.config.root_certificate_pem = Some(ca.ca_pem.clone());
    };

    // Without the CA, the office cannot even create the workspace.
    let stranger = Device::new(root.path(), "stranger", &url);
    let refused =
        enrollment::create_workspace(&stranger.vault, &stranger.config, OPERATOR_TOKEN, 72).await;
    assert!(matches!(refused, Err(Error::Network(_))), "{refused:?}");
    assert_eq!(stranger.vault.sync_settings().expect("settings"), None);

    // A certificate that is not PEM is refused before anything is sent.
    let mut garbled = Device::new(root.path(), "garbled", &url);
    garbled.config.root_certificate_pem = Some("not a certificate".into());
    let refused =
        enrollment::create_workspace(&garbled.vault, &garbled.config, OPERATOR_TOKEN, 72).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    assert_eq!(garbled.vault.sync_settings().expect("settings"), None);

    // With it: the office founds the workspace and a phone pairs.
    let mut office = Device::new(root.path(), "office", &url);
    with_ca(&mut office);
    let office = found_workspace(office).await;
    let mut phone = Device::new(root.path(), "phone", &url);
    with_ca(&mut phone);
    let phone = pair_device(&office, phone).await;
    for device in [&office, &phone] {
        let settings = device
            .vault
            .sync_settings()
            .expect("read")
            .expect("enrolled");
        assert_eq!(
            settings.relay_root_certificate_pem.as_deref(),
            Some(ca.ca_pem.as_str())
        );
    }

    // Later syncs need nothing but the vault: the engine built from the
    // recorded enrolment trusts the CA.
    let recorded = |device: &Device| {
        let settings = device
            .vault
            .sync_settings()
            .expect("read")
            .expect("enrolled");
        SyncEngine::new(device.vault.clone(), ClientConfig::for_enrolment(&settings))
            .expect("engine")
    };
    let id = insert_sample(&phone.vault, 0);
    recorded(&phone)
        .sync_once()
        .await
        .expect("phone syncs over TLS");
    recorded(&office)
        .sync_once()
        .await
        .expect("office syncs over TLS");
    assert!(
        office.vault.summary(&id).is_ok(),
        "the phone's sighting reached the office"
    );

    // The same vault without the CA recorded is refused by TLS.
    let bare =
        SyncEngine::new(phone.vault.clone(), ClientConfig::new(url.clone())).expect("engine");
    assert!(matches!(bare.sync_once().await, Err(Error::Network(_))));
}

/// The town replaces its CA: the proxy now serves a certificate from the new
/// one, and the phone's running engine is refused until the new CA's
/// certificate is recorded in its vault; from the next pass on the same
/// engine syncs again, and nothing else of the enrolment changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_engine_follows_a_replaced_root_certificate() {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let (old_ca, new_ca) = (private_ca(), private_ca());
    let (serve, served) = watch::channel(old_ca.server.clone());
    let url = format!("https://{}", tls_front(&relay.url, served).await);
    let mut office = Device::new(root.path(), "office", &url);
    office.config.root_certificate_pem = Some(old_ca.ca_pem.clone());
    let office = found_workspace(office).await;
    let mut phone = Device::new(root.path(), "phone", &url);
    phone.config.root_certificate_pem = Some(old_ca.ca_pem.clone());
    let phone = pair_device(&office, phone).await;
    let settings = |device: &Device| {
        device
            .vault
            .sync_settings()
            .expect("read")
            .expect("enrolled")
    };
    let engine = |device: &Device| {
        SyncEngine::new(
            device.vault.clone(),
            ClientConfig::for_enrolment(&settings(device)),
        )
        .expect("engine")
    };
    let (phone_engine, office_engine) = (engine(&phone), engine(&office));
    let first = insert_sample(&phone.vault, 0);
    phone_engine
        .sync_once()
        .await
        .expect("synced under the old CA");
    let before = settings(&phone);

    serve.send(new_ca.server.clone()).expect("new certificate");
    // Let the proxy close the connections opened under the old certificate.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = insert_sample(&phone.vault, 1);
    let refused = phone_engine.sync_once().await;
    assert!(matches!(refused, Err(Error::Network(_))), "{refused:?}");

    // Text that is no certificate changes nothing.
    let garbled = phone
        .vault
        .set_relay_root_certificate(Some("-----BEGIN CERTIFICATE-----\nnot base64\n".into()));
    assert!(
        matches!(garbled, Err(Error::InvalidInput(_))),
        "{garbled:?}"
    );
    assert_eq!(settings(&phone), before);

    for device in [&phone, &office] {
        device
            .vault
            .set_relay_root_certificate(Some(new_ca.ca_pem.clone()))
            .expect("record the new CA");
    }
    let after = settings(&phone);
    assert_eq!(
        after.relay_root_certificate_pem.as_deref(),
        Some(new_ca.ca_pem.as_str())
    );
    assert_eq!(
        (after.cursor, &after.workspace_id, &after.relay_url),
        (before.cursor, &before.workspace_id, &before.relay_url)
    );
    phone_engine
        .sync_once()
        .await
        .expect("the same engine syncs under the new CA");
    office_engine.sync_once().await.expect("office syncs");
    // The engines saved their cursors without undoing the recorded change.
    for device in [&phone, &office] {
        assert_eq!(
            settings(device).relay_root_certificate_pem.as_deref(),
            Some(new_ca.ca_pem.as_str())
        );
    }
    for id in [first, second] {
        assert!(office.vault.summary(&id).is_ok(), "{id} reached the office");
    }
}
