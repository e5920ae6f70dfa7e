// The idiomatic Swift API over the generated bindings (module FieldVaultFFI).
//
// Threads. The library's storage calls are synchronous (SQLite, AES-GCM, a few
// milliseconds); the `async` functions here run them on a GCD queue
// (`offMain`), so they block neither the caller nor Swift's cooperative pool.
// The library's own async functions (relay calls, photo ingest and reads, sync
// passes) are awaited directly: uniffi polls the Rust future on the thread that
// runs the awaiting function, and every `async` function of this module is a
// *nonisolated* async function (`FieldVault`, `Sync` and `Pairing` are not
// actor-isolated), which Swift (5.7 and later, SE-0338; so the 5.9 this
// package declares and 5.10) always runs on the global concurrent executor,
// never on the caller's actor — so not on the main thread,
// even when called from `@MainActor` code. The library does the work itself on
// its own runtime; what runs on the cooperative thread is a cheap poll.
// `Task.detached` would add nothing but lose cancellation and priority.
// (Swift 6.2's `NonisolatedNonsendingByDefault` mode changes that rule: a
// package built with it must mark these functions `@concurrent`.)
// The non-async members (`validate`, `new*`, `sample`, `deviceId`, `Sync`
// controls) compute in memory or signal the engine; `sync()` does one small
// sealed read of the enrolment.
// Sync state is an AsyncStream.
// Errors are the generated `FieldVaultError` cases (WrongKey, Validation,
// Network, Revoked, ...), each with a message that names what failed and never
// a stored value.
//
// Convention checked by bindings/tests/binding_coverage.rs: the generated
// objects are only reached through `inner` (FieldVault), `engine` (SyncEngine),
// `session` (PairingSession), and top-level functions and constructors through
// the module name `FieldVaultFFI`.
import Foundation
// Apps import FieldVault only and still see the generated types (records, enums, errors).
@_exported import FieldVaultFFI

/// Runs blocking library work on a background queue.
func offMain<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// One unlocked vault.
public final class FieldVault: @unchecked Sendable {
    let inner: FieldVaultFFI.FieldVault
    private let lock = NSLock()
    private var currentSync: Sync?

    private init(_ inner: FieldVaultFFI.FieldVault) {
        self.inner = inner
    }

    /// Where the app keeps its vault: Application Support, excluded from backups, protected until first unlock.
    public static func defaultDirectory(name: String = "vault") throws -> URL {
        var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("FieldVault/\(name)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                attributes: [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication])
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir
    }

    /// Creates a vault whose root key is wrapped by `keys` (the Keychain / Secure Enclave).
    public static func create(at dir: URL, staffId: String, keys: KeyProvider = KeychainKeyProvider()) async throws -> FieldVault {
        try await offMain { FieldVault(try FieldVaultFFI.FieldVault.create(dir: dir.path, keys: keys, staffId: staffId)) }
    }

    /// Opens a vault; throws `FieldVaultError.WrongKey` if `keys` cannot unwrap it.
    public static func open(at dir: URL, staffId: String, keys: KeyProvider = KeychainKeyProvider()) async throws -> FieldVault {
        try await offMain { FieldVault(try FieldVaultFFI.FieldVault.open(dir: dir.path, keys: keys, staffId: staffId)) }
    }

    /// Opens the app's vault, creating it (and its keychain key) on first launch.
    public static func openOrCreate(staffId: String, keys: KeyProvider = KeychainKeyProvider()) async throws -> FieldVault {
        let dir = try defaultDirectory()
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("vault.db").path) {
            return try await open(at: dir, staffId: staffId, keys: keys)
        }
        return try await create(at: dir, staffId: staffId, keys: keys)
    }

    public static var version: String { FieldVaultFFI.libraryVersion() }

    public var deviceId: String { inner.deviceId() }
    public var staffId: String { inner.staffId() }

    private func changed() {
        lock.lock(); let sync = currentSync; lock.unlock()
        sync?.requestSync()
    }

    // MARK: new documents

    public func newTaxAssist(municipalityCode: String, taxYear: UInt16) -> TaxAssist {
        inner.newTaxAssist(municipalityCode: municipalityCode, taxYear: taxYear)
    }

    public func newBearSighting(municipalityCode: String) -> BearSighting {
        inner.newBearSighting(municipalityCode: municipalityCode)
    }

    public func newDamageReport(municipalityCode: String, disasterName: String, reportNumber: UInt32, asOf: Date = Date()) throws -> DamageReport {
        try inner.newDamageReport(municipalityCode: municipalityCode, disasterName: disasterName,
                                  reportNumber: reportNumber, asOf: rfc3339(asOf))
    }

    /// A filled, fictional document for demos.
    public func sample(_ kind: DocumentKind, municipalityCode: String) throws -> AnyDocument {
        let envelope = try inner.newEnvelope(kind: kind, municipalityCode: municipalityCode)
        switch kind {
        case .taxAssist: return .taxAssist(try FieldVaultFFI.sampleTaxAssist(envelope: envelope))
        case .bearSighting: return .bearSighting(try FieldVaultFFI.sampleBearSighting(envelope: envelope))
        case .damageReport: return .damageReport(try FieldVaultFFI.sampleDamageReport(envelope: envelope))
        case .auditLog: throw SampleError.notASampleKind
        }
    }

    // MARK: documents

    @discardableResult
    public func insert(_ document: TaxAssist) async throws -> DocumentId {
        defer { changed() }
        return try await offMain { try self.inner.insertTaxAssist(document: document) }
    }

    @discardableResult
    public func insert(_ document: BearSighting) async throws -> DocumentId {
        defer { changed() }
        return try await offMain { try self.inner.insertBearSighting(document: document) }
    }

    @discardableResult
    public func insert(_ document: DamageReport) async throws -> DocumentId {
        defer { changed() }
        return try await offMain { try self.inner.insertDamageReport(document: document) }
    }

    public func taxAssist(_ id: DocumentId) async throws -> TaxAssist {
        try await offMain { try self.inner.getTaxAssist(id: id) }
    }

    public func bearSighting(_ id: DocumentId) async throws -> BearSighting {
        try await offMain { try self.inner.getBearSighting(id: id) }
    }

    public func damageReport(_ id: DocumentId) async throws -> DamageReport {
        try await offMain { try self.inner.getDamageReport(id: id) }
    }

    public func document(_ id: DocumentId) async throws -> AnyDocument {
        try await offMain { try self.inner.getAny(id: id) }
    }

    /// Saves an edited document; only changed fields are recorded.
    public func save(_ document: TaxAssist) async throws {
        try await offMain { try self.inner.putTaxAssist(document: document) }; changed()
    }

    public func save(_ document: BearSighting) async throws {
        try await offMain { try self.inner.putBearSighting(document: document) }; changed()
    }

    public func save(_ document: DamageReport) async throws {
        try await offMain { try self.inner.putDamageReport(document: document) }; changed()
    }

    /// Field errors (empty: valid) for live form feedback.
    public func validate(_ document: TaxAssist) throws -> [FieldError] { try inner.validateTaxAssist(document: document) }
    public func validate(_ document: BearSighting) throws -> [FieldError] { try inner.validateBearSighting(document: document) }
    public func validate(_ document: DamageReport) throws -> [FieldError] { try inner.validateDamageReport(document: document) }

    public func list(kind: DocumentKind? = nil, status: Status? = nil) async throws -> Listing {
        try await offMain { try self.inner.list(filter: ListFilter(kind: kind, status: status, updatedFrom: nil, updatedUntil: nil)) }
    }

    public func summary(_ id: DocumentId) async throws -> DocumentSummary {
        try await offMain { try self.inner.summary(id: id) }
    }

    public func history(_ id: DocumentId) async throws -> [HistoryEntry] {
        try await offMain { try self.inner.history(id: id) }
    }

    public func setStatus(_ id: DocumentId, _ status: Status) async throws {
        try await offMain { try self.inner.setStatus(id: id, status: status) }; changed()
    }

    /// Crypto-shreds one document (its key first).
    public func delete(_ id: DocumentId) async throws {
        try await offMain { try self.inner.delete(id: id) }; changed()
    }

    public func exportChanges(_ id: DocumentId) async throws -> Data {
        try await offMain { try self.inner.exportChanges(id: id) }
    }

    @discardableResult
    public func mergeChanges(_ changes: Data) async throws -> DocumentId {
        defer { changed() }
        return try await offMain { try self.inner.mergeChanges(changes: changes) }
    }

    /// Records the office's acknowledgement (starts the retention clock).
    public func markAcknowledged(_ id: DocumentId) async throws {
        try await offMain { try self.inner.markAcknowledged(id: id) }
    }

    /// Writes a snapshot of the document and drops its change rows.
    public func compact(_ id: DocumentId) async throws {
        try await offMain { try self.inner.compact(id: id) }
    }

    /// Purges the documents whose retention period has passed; returns their ids.
    @discardableResult
    public func applyRetention() async throws -> [DocumentId] {
        try await offMain { try self.inner.applyRetention() }
    }

    // MARK: My Number (個人番号): never synced, deleted on filing

    /// Stores the number (checked by its check digit); returns the masked form.
    public func setMyNumber(_ id: DocumentId, _ myNumber: String) async throws -> String {
        try await offMain { try self.inner.setMyNumber(id: id, myNumber: myNumber) }
    }

    public func myNumberMasked(_ id: DocumentId) async throws -> String? {
        try await offMain { try self.inner.myNumberMasked(id: id) }
    }

    /// The full number, for the moment it is typed into e-Tax. Never log or persist it
    /// (a Swift `String` cannot be wiped: keep it no longer than needed).
    public func revealMyNumber(_ id: DocumentId) async throws -> String? {
        try await offMain { try self.inner.revealMyNumber(id: id) }
    }

    public func forgetMyNumber(_ id: DocumentId) async throws -> Bool {
        try await offMain { try self.inner.forgetMyNumber(id: id) }
    }

    // MARK: photos

    /// JPEG/PNG/WebP as is; HEIC (the iPhone default) is converted to JPEG with ImageIO first.
    /// The library strips all metadata from the stored image and keeps position and
    /// time (where the document kind allows) inside the sealed document only.
    @discardableResult
    public func ingestPhoto(_ id: DocumentId, image: Data) async throws -> PhotoRef {
        // HEIC decoding and JPEG encoding take a while: on a GCD queue, not the cooperative pool.
        let bytes = try await offMain { try PhotoConversion.jpegIfNeeded(image) }
        defer { changed() }
        return try await inner.ingestPhoto(id: id, image: bytes)
    }

    public func photo(_ id: DocumentId, photoId: Uuid) async throws -> Data {
        try await inner.readPhoto(id: id, photoId: photoId, variant: .display)
    }

    public func thumbnail(_ id: DocumentId, photoId: Uuid) async throws -> Data {
        try await inner.readPhoto(id: id, photoId: photoId, variant: .thumbnail)
    }

    // MARK: audit

    /// Records that the app exported (shared, printed, sent) these documents as `format`.
    public func recordExports(_ ids: [DocumentId], format: String) async throws {
        try await offMain { try self.inner.recordExports(ids: ids, format: format) }
    }

    /// This device's audit log, and what is wrong with its chain
    /// (`problems` empty when intact).
    public func auditLog() async throws -> AuditLogReport {
        try await offMain { try self.inner.auditLog() }
    }

    // MARK: maintenance

    public func integrityCheck() async throws -> Bool {
        try await offMain { try self.inner.integrityCheck() }
    }

    /// Moves the WAL into the database file (before a backup or copy).
    public func checkpoint() async throws {
        try await offMain { try self.inner.checkpoint() }
    }

    /// Crypto-shreds the whole vault and removes its files.
    public func wipe() async throws {
        try await offMain { try self.inner.wipe() }
    }

    // MARK: workspace

    /// How this vault syncs, or nil before it joins a workspace (a sealed read: off the caller's thread).
    public func syncSettings() async throws -> SyncSettings? {
        try await offMain { try self.inner.syncSettings() }
    }

    /// Replaces the extra root certificate(s) trusted for the relay (PEM;
    /// `nil`: none), when the town's private CA is renewed. The library's TLS
    /// client (rustls) trusts its built-in Mozilla root set (webpki-roots)
    /// plus these; it does NOT consult the iOS trust store, so a CA installed
    /// on the device by the user or by MDM (a configuration profile) is not
    /// trusted unless it is given here. Throws `InvalidInput` and changes
    /// nothing when the text holds no certificate; the running `Sync` uses it
    /// from its next pass.
    public func setRelayRootCertificate(_ pem: String?) async throws {
        try await offMain { try self.inner.setRelayRootCertificate(rootCertificatePem: pem) }
    }

    /// Office device: creates the workspace with the relay operator's token.
    /// `rootCertificatePEM`: a root certificate to trust for the relay in
    /// addition to the library's built-in Mozilla roots (a private CA on a
    /// closed network, e.g. LGWAN); kept with the enrolment for every later
    /// connection. The iOS trust store (user- or MDM-installed CAs included)
    /// is not consulted: a private CA must be passed here.
    public func createWorkspace(relayURL: URL, operatorToken: String, leaseHours: UInt32 = 72,
                                rootCertificatePEM: String? = nil) async throws -> SyncSettings {
        try await inner.createWorkspace(relayUrl: relayURL.absoluteString, operatorToken: operatorToken,
                                        leaseHours: leaseHours, rootCertificatePem: rootCertificatePEM)
    }

    /// Office device: starts pairing one phone; show `qrText` as a QR code, then `complete()`.
    public func startPairing(validFor seconds: UInt32 = 600) async throws -> Pairing {
        Pairing(session: try await inner.startPairing(validForSecs: seconds))
    }

    /// Phone: joins with the scanned QR text and waits for the keys.
    /// `rootCertificatePEM` as for `createWorkspace` (in addition to the
    /// built-in Mozilla roots; the iOS trust store is not used).
    public func joinWorkspace(qrText: String, deviceName: String, timeout seconds: UInt32 = 120,
                              rootCertificatePEM: String? = nil) async throws -> SyncSettings {
        try await inner.joinWorkspace(qrText: qrText, deviceName: deviceName, timeoutSecs: seconds,
                                      rootCertificatePem: rootCertificatePEM)
    }

    public func devices() async throws -> DeviceList { try await inner.listDevices() }

    /// Office device: revokes a lost phone (it wipes itself on its next connection); returns the new key epoch.
    public func revokeDevice(_ deviceId: String) async throws -> UInt32 { try await inner.revokeDevice(deviceId: deviceId) }

    public func rotateKey() async throws -> UInt32 { try await inner.rotateKey() }

    /// This vault's sync engine, shared by the app's screens and `BackgroundSync`:
    /// one per process at a time. After `Sync.stop()` the next call makes a new
    /// engine (a stopped engine never restarts). Reads the enrolment (a small
    /// sealed read); throws `InvalidInput` before the vault joined a workspace.
    public func sync() throws -> Sync {
        lock.lock(); defer { lock.unlock() }
        if let sync = currentSync { return sync }
        let sync = Sync(engine: try inner.syncEngine()) { [weak self] ended in self?.detach(ended) }
        currentSync = sync
        return sync
    }

    /// Called once by a `Sync` that stops: forget it, so `sync()` makes a new engine.
    private func detach(_ ended: Sync) {
        lock.lock(); defer { lock.unlock() }
        if currentSync === ended { currentSync = nil }
    }
}

/// The office side of pairing one device.
public final class Pairing: @unchecked Sendable {
    private let session: PairingSession
    init(session: PairingSession) { self.session = session }

    /// The QR code's text (holds the one-time enrollment secret: show it, never log it).
    /// Empty once `complete` has been called.
    public var qrText: String { session.qrText() }

    /// Waits for the phone to enroll; returns its device id.
    public func complete(timeout seconds: UInt32 = 120) async throws -> String {
        try await session.complete(timeoutSecs: seconds)
    }
}

/// Sync with the relay: an `AsyncStream` of state, passes on demand or in the background.
/// Once stopped it stays stopped: get a new one from `FieldVault.sync()`.
public final class Sync: @unchecked Sendable {
    private let engine: SyncEngine
    private let lock = NSLock()
    private var continuations: [UUID: AsyncStream<SyncState>.Continuation] = [:]
    private var latest: SyncState
    private var started = false
    private var stopped = false
    private let onStop: (Sync) -> Void
    // Progress. The engine offers no way to remove a listener (each `setProgressListener` adds
    // one for the engine's lifetime), so one forwarder is registered, on the first `onProgress`,
    // and hands every update to the current handler. The handler and the latest progress live on
    // this serial queue, which also makes every call of a handler: updates arrive in order, one
    // at a time, and a replaced handler is not called after its replacement took effect.
    private let progressQueue = DispatchQueue(label: "jp.fieldvault.sync.progress")
    private var progressHandler: (@Sendable (SyncProgress) -> Void)? // on progressQueue
    private var latestProgress: SyncProgress?                         // on progressQueue
    private var progressRegistered = false                            // under lock

    init(engine: SyncEngine, onStop: @escaping (Sync) -> Void) {
        self.engine = engine
        self.onStop = onStop
        self.latest = engine.state()
        try? engine.setStateListener(listener: StateForwarder { [weak self] state in self?.publish(state) })
    }

    private func publish(_ state: SyncState) {
        lock.lock()
        latest = state
        let targets = Array(continuations.values)
        lock.unlock()
        for continuation in targets { continuation.yield(state) }
    }

    /// The current state, then every change (for a status bar). Ends when the sync is stopped.
    public var states: AsyncStream<SyncState> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let key = UUID()
            lock.lock()
            let ended = stopped
            if !ended { continuations[key] = continuation }
            let current = latest
            lock.unlock()
            continuation.yield(current)
            if ended { continuation.finish(); return }
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.lock.lock(); self.continuations[key] = nil; self.lock.unlock()
            }
        }
    }

    public var state: SyncState { engine.state() }

    /// True once `start` has started the background loop, until `stop` (the app's foreground loop uses this engine).
    public var isStarted: Bool {
        lock.lock(); defer { lock.unlock() }
        return started && !stopped
    }

    /// True once `stop` was called.
    public var isStopped: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopped
    }

    /// One pass now; throws `FieldVaultError.Revoked` (after the wipe) if this phone was revoked,
    /// and `FieldVaultError.Cancelled` if this sync is (or gets) stopped.
    @discardableResult
    public func syncNow() async throws -> SyncReport {
        if isStopped { throw FieldVaultError.Cancelled(message: Self.stoppedMessage) }
        return try await engine.syncOnce()
    }

    /// Starts the background loop while the app is in the foreground. Once per `Sync`:
    /// later calls (a view that appears again) do nothing rather than start a second loop.
    public func start(interval seconds: UInt32 = 60) throws {
        lock.lock()
        if stopped { lock.unlock(); throw FieldVaultError.Cancelled(message: Self.stoppedMessage) }
        if started { lock.unlock(); return }
        started = true
        lock.unlock()
        do {
            try engine.start(intervalSecs: seconds)
        } catch {
            lock.lock(); started = false; lock.unlock()
            throw error
        }
    }

    /// Stops the loop and any pass in progress (between two requests) for good, ends the
    /// `states` streams, and detaches this sync from its vault: `FieldVault.sync()` then makes
    /// a new engine. The other calls become no-ops.
    public func stop() {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        let targets = Array(continuations.values)
        continuations.removeAll()
        // Like the state streams: no more progress. Queued under the lock: it runs after the
        // handler of any earlier `onProgress`, and a later one sees `stopped` and queues nothing.
        progressQueue.async { self.progressHandler = nil }
        lock.unlock()
        engine.cancel()
        onStop(self)
        for continuation in targets { continuation.finish() }
    }

    public func notifyConnectivity(online: Bool) {
        if !isStopped { engine.notifyConnectivity(online: online) }
    }

    public func requestSync() {
        if !isStopped { engine.requestSync() }
    }

    private static let stoppedMessage = "this sync was stopped; ask FieldVault.sync() for a new one"

    /// Progress updates (pending change sets and bytes, current transfer): `handler` gets the
    /// current progress now and every change after, on a background queue. One handler per
    /// `Sync`: a call replaces the previous handler and `nil` removes it, so a view that sets it
    /// each time it appears does not pile up listeners. Does nothing once the sync is stopped.
    public func onProgress(_ handler: (@Sendable (SyncProgress) -> Void)?) throws {
        lock.lock()
        if stopped { lock.unlock(); return }
        let register = !progressRegistered
        progressRegistered = true
        // Queued under the lock: calls replace each other (and `stop` clears) in the order made.
        progressQueue.async {
            self.progressHandler = handler
            // Nothing reported yet: the forwarder's registration reports the current progress.
            if let latest = self.latestProgress { handler?(latest) }
        }
        lock.unlock()
        guard register else { return }
        do {
            try engine.setProgressListener(listener: ProgressForwarder { [weak self] progress in
                guard let self else { return }
                self.progressQueue.async {
                    self.latestProgress = progress
                    self.progressHandler?(progress)
                }
            })
        } catch {
            lock.lock(); progressRegistered = false; lock.unlock()
            throw error
        }
    }
}

private final class StateForwarder: SyncStateListener, @unchecked Sendable {
    private let handler: (SyncState) -> Void
    init(_ handler: @escaping (SyncState) -> Void) { self.handler = handler }
    func onState(state: SyncState) { handler(state) }
}

private final class ProgressForwarder: SyncProgressListener, @unchecked Sendable {
    private let handler: @Sendable (SyncProgress) -> Void
    init(_ handler: @escaping @Sendable (SyncProgress) -> Void) { self.handler = handler }
    func onProgress(progress: SyncProgress) { handler(progress) }
}

/// RFC 3339 with the device's current offset, as the library expects.
func rfc3339(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone.current
    return formatter.string(from: date)
}

/// `sample(_:)` was asked for a kind that has no sample (the audit log).
public enum SampleError: Error {
    case notASampleKind
}
