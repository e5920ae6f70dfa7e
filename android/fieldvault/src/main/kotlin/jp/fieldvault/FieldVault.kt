// The idiomatic Kotlin API over the generated bindings (jp.fieldvault.ffi).
//
// Every suspend function here runs its call into the library under
// `withContext(io)` (Dispatchers.IO unless a test passes another dispatcher):
// the synchronous storage calls (SQLite, AES-GCM, a few milliseconds) and the
// library's own suspend functions (relay calls, photo ingest and reads, sync
// passes) alike. The latter matters because uniffi polls a Rust future on the
// thread of the coroutine that awaits it, first and after every wake-up: called
// from Dispatchers.Main, each poll would run on the main thread. The library
// keeps the real work on its own threads; the dispatcher keeps even the poll off
// the caller's. The non-suspend functions (`validate`, `new*`, `sample`, `Sync`
// controls) only compute in memory or signal the engine, except `sync()`, which
// reads the enrolment once (a small sealed read) when it makes an engine.
// Sync state is a StateFlow. Errors are the generated FieldVaultException
// subclasses (WrongKey, Validation, Network, Revoked, ...), each with a message
// that names what failed and never a stored value.
//
// Convention checked by bindings/tests/binding_coverage.rs: the generated
// objects are only reached through `inner` (FieldVault), `engine` (SyncEngine),
// `session` (PairingSession) and `FfiVault` (constructors); top-level
// generated functions are imported by name.
package jp.fieldvault

import android.content.Context
import java.io.File
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.time.Duration
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds
import jp.fieldvault.ffi.AnyDocument
import jp.fieldvault.ffi.AuditLogReport
import jp.fieldvault.ffi.BearSighting
import jp.fieldvault.ffi.DamageReport
import jp.fieldvault.ffi.DeviceList
import jp.fieldvault.ffi.DocumentId
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.DocumentSummary
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.FieldVault as FfiVault
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.HistoryEntry
import jp.fieldvault.ffi.KeyProvider
import jp.fieldvault.ffi.ListFilter
import jp.fieldvault.ffi.Listing
import jp.fieldvault.ffi.PairingSession
import jp.fieldvault.ffi.PhotoRef
import jp.fieldvault.ffi.PhotoVariant
import jp.fieldvault.ffi.Status
import jp.fieldvault.ffi.SyncEngine
import jp.fieldvault.ffi.SyncPhase
import jp.fieldvault.ffi.SyncProgress
import jp.fieldvault.ffi.SyncProgressListener
import jp.fieldvault.ffi.SyncReport
import jp.fieldvault.ffi.SyncSettings
import jp.fieldvault.ffi.SyncState
import jp.fieldvault.ffi.SyncStateListener
import jp.fieldvault.ffi.TaxAssist
import jp.fieldvault.ffi.Timestamp
import jp.fieldvault.ffi.Uuid
import jp.fieldvault.ffi.libraryVersion
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleDamageReport
import jp.fieldvault.ffi.sampleTaxAssist
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext

/** One unlocked vault. Close it when the app no longer needs it. */
class FieldVault private constructor(
    private val inner: FfiVault,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    companion object {
        /** Where [openOrCreate] keeps a vault: app-private, excluded from backups by the manifest rules. */
        fun defaultDirectory(context: Context, name: String = "vault"): File =
            File(context.noBackupFilesDir, "fieldvault/$name")

        /** Creates a vault in [dir]; its root key is wrapped by [keys] (the platform keystore). */
        suspend fun create(
            dir: File,
            staffId: String,
            keys: KeyProvider,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): FieldVault = withContext(io) { FieldVault(FfiVault.create(dir.path, keys, staffId), io) }

        /** Opens the vault in [dir]. Throws FieldVaultException.WrongKey if [keys] cannot unwrap it. */
        suspend fun open(
            dir: File,
            staffId: String,
            keys: KeyProvider,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): FieldVault = withContext(io) { FieldVault(FfiVault.open(dir.path, keys, staffId), io) }

        /** Opens the app's vault, creating it (and its keystore key) on first start. */
        suspend fun openOrCreate(
            context: Context,
            staffId: String,
            keys: KeyProvider = AndroidKeystoreKeyProvider(),
            dir: File = defaultDirectory(context),
        ): FieldVault =
            if (File(dir, "vault.db").isFile) open(dir, staffId, keys) else create(dir, staffId, keys)

        /** The native library's version. */
        val version: String get() = libraryVersion()
    }

    /** Runs [block] (a storage call or one of the bindings' suspend calls) on the IO dispatcher. */
    private suspend fun <T> io(block: suspend () -> T): T = withContext(io) { block() }

    /** Set while a [Sync] is attached: local edits then ask it for a pass. Cleared when it stops. */
    @Volatile private var sync: Sync? = null

    private fun changed() {
        sync?.requestSync()
    }

    val deviceId: String get() = inner.deviceId()
    val staffId: String get() = inner.staffId()

    // ---- new documents --------------------------------------------------------

    fun newTaxAssist(municipalityCode: String, taxYear: Int): TaxAssist =
        inner.newTaxAssist(municipalityCode, taxYear.toUShort())

    fun newBearSighting(municipalityCode: String): BearSighting = inner.newBearSighting(municipalityCode)

    fun newDamageReport(municipalityCode: String, disasterName: String, reportNumber: Int, asOf: Timestamp): DamageReport =
        inner.newDamageReport(municipalityCode, disasterName, reportNumber.toUInt(), asOf)

    /** Filled, fictional documents for demos. */
    fun sample(kind: DocumentKind, municipalityCode: String): AnyDocument {
        val envelope = inner.newEnvelope(kind, municipalityCode)
        return when (kind) {
            DocumentKind.TAX_ASSIST -> AnyDocument.TaxAssist(sampleTaxAssist(envelope))
            DocumentKind.BEAR_SIGHTING -> AnyDocument.BearSighting(sampleBearSighting(envelope))
            DocumentKind.DAMAGE_REPORT -> AnyDocument.DamageReport(sampleDamageReport(envelope))
            DocumentKind.AUDIT_LOG -> throw IllegalArgumentException("audit logs are not sample documents")
        }
    }

    // ---- documents -------------------------------------------------------------

    suspend fun insert(document: TaxAssist): DocumentId = io { inner.insertTaxAssist(document) }.also { changed() }
    suspend fun insert(document: BearSighting): DocumentId = io { inner.insertBearSighting(document) }.also { changed() }
    suspend fun insert(document: DamageReport): DocumentId = io { inner.insertDamageReport(document) }.also { changed() }

    suspend fun taxAssist(id: DocumentId): TaxAssist = io { inner.getTaxAssist(id) }
    suspend fun bearSighting(id: DocumentId): BearSighting = io { inner.getBearSighting(id) }
    suspend fun damageReport(id: DocumentId): DamageReport = io { inner.getDamageReport(id) }
    suspend fun document(id: DocumentId): AnyDocument = io { inner.getAny(id) }

    /** Saves an edited document; only changed fields are recorded (and merge with others' edits). */
    suspend fun save(document: TaxAssist) = io { inner.putTaxAssist(document) }.also { changed() }
    suspend fun save(document: BearSighting) = io { inner.putBearSighting(document) }.also { changed() }
    suspend fun save(document: DamageReport) = io { inner.putDamageReport(document) }.also { changed() }

    /** Field errors (empty: valid) for live form feedback; nothing is stored. */
    fun validate(document: TaxAssist): List<FieldError> = inner.validateTaxAssist(document)
    fun validate(document: BearSighting): List<FieldError> = inner.validateBearSighting(document)
    fun validate(document: DamageReport): List<FieldError> = inner.validateDamageReport(document)

    suspend fun list(
        kind: DocumentKind? = null,
        status: Status? = null,
        updatedFrom: Timestamp? = null,
        updatedUntil: Timestamp? = null,
    ): Listing = io { inner.list(ListFilter(kind, status, updatedFrom, updatedUntil)) }

    suspend fun summary(id: DocumentId): DocumentSummary = io { inner.summary(id) }
    suspend fun history(id: DocumentId): List<HistoryEntry> = io { inner.history(id) }
    suspend fun setStatus(id: DocumentId, status: Status) = io { inner.setStatus(id, status) }.also { changed() }
    suspend fun markAcknowledged(id: DocumentId) = io { inner.markAcknowledged(id) }

    /** Crypto-shreds one document (its key first). */
    suspend fun delete(id: DocumentId) = io { inner.delete(id) }.also { changed() }

    suspend fun exportChanges(id: DocumentId): ByteArray = io { inner.exportChanges(id) }
    suspend fun mergeChanges(changes: ByteArray): DocumentId = io { inner.mergeChanges(changes) }.also { changed() }
    suspend fun compact(id: DocumentId) = io { inner.compact(id) }
    suspend fun applyRetention(): List<DocumentId> = io { inner.applyRetention() }

    // ---- My Number (個人番号): never synced, deleted on filing ---------------------

    /** Stores the number (checked by its check digit); returns the masked form for display. */
    suspend fun setMyNumber(id: DocumentId, myNumber: String): String = io { inner.setMyNumber(id, myNumber) }
    suspend fun myNumberMasked(id: DocumentId): String? = io { inner.myNumberMasked(id) }

    /** The full number, for the moment it is typed into e-Tax. Never log or persist it. */
    suspend fun revealMyNumber(id: DocumentId): String? = io { inner.revealMyNumber(id) }
    suspend fun forgetMyNumber(id: DocumentId): Boolean = io { inner.forgetMyNumber(id) }

    // ---- photos ------------------------------------------------------------------

    /** JPEG, PNG or WebP bytes from the camera; metadata is stripped, the image resized and sealed. */
    suspend fun ingestPhoto(id: DocumentId, image: ByteArray): PhotoRef = io { inner.ingestPhoto(id, image) }.also { changed() }
    suspend fun photo(id: DocumentId, photoId: Uuid): ByteArray = io { inner.readPhoto(id, photoId, PhotoVariant.DISPLAY) }
    suspend fun thumbnail(id: DocumentId, photoId: Uuid): ByteArray = io { inner.readPhoto(id, photoId, PhotoVariant.THUMBNAIL) }

    // ---- audit ----------------------------------------------------------------------

    /** Records that the app exported (shared, printed, sent) these documents as [format]. */
    suspend fun recordExports(ids: List<DocumentId>, format: String) = io { inner.recordExports(ids, format) }
    /** This device's audit log, and what is wrong with its chain (`problems` empty when intact). */
    suspend fun auditLog(): AuditLogReport = io { inner.auditLog() }

    // ---- maintenance ----------------------------------------------------------------

    suspend fun integrityCheck(): Boolean = io { inner.integrityCheck() }
    suspend fun checkpoint() = io { inner.checkpoint() }

    /** Crypto-shreds the whole vault and removes its files. */
    suspend fun wipe() = io { inner.wipe() }

    // ---- workspace -------------------------------------------------------------------

    suspend fun syncSettings(): SyncSettings? = io { inner.syncSettings() }

    /**
     * Replaces the extra root certificate(s) trusted for the relay (PEM; `null`: none), when the
     * town's private CA is renewed. The library's TLS client (rustls) trusts its built-in Mozilla
     * root set (webpki-roots) plus these certificates; it does NOT consult Android's trust store,
     * so a CA installed on the phone by the user or by MDM is not trusted unless it is given here.
     * Throws `InvalidInput` and changes nothing when the text holds no certificate; the running
     * [Sync] uses it from its next pass.
     */
    suspend fun setRelayRootCertificate(rootCertificatePem: String?) =
        io { inner.setRelayRootCertificate(rootCertificatePem) }

    /**
     * Office device: creates the workspace on the town's relay with its operator's token. [rootCertificatePem]: a root
     * certificate to trust for the relay in addition to the library's built-in Mozilla roots (a private CA on a
     * closed network, e.g. LGWAN); kept with the enrolment for every later connection. Android's trust store
     * (user- or MDM-installed CAs included) is not consulted: a private CA must be passed here.
     */
    suspend fun createWorkspace(
        relayUrl: String,
        operatorToken: String,
        leaseHours: Int = 72,
        rootCertificatePem: String? = null,
    ): SyncSettings = io { inner.createWorkspace(relayUrl, operatorToken, leaseHours.toUInt(), rootCertificatePem) }

    /** Office device: starts pairing one phone; show [Pairing.qrText] as a QR code. */
    suspend fun startPairing(validFor: Duration = 10.minutes): Pairing =
        Pairing(io { inner.startPairing(validFor.inWholeSeconds.toUInt()) }, io)

    /**
     * Phone: joins with the scanned QR text; waits for the office device to deliver the keys.
     * [rootCertificatePem] as for [createWorkspace] (trusted in addition to the built-in Mozilla roots, not the OS store).
     */
    suspend fun joinWorkspace(
        qrText: String,
        deviceName: String,
        timeout: Duration = 2.minutes,
        rootCertificatePem: String? = null,
    ): SyncSettings = io { inner.joinWorkspace(qrText, deviceName, timeout.inWholeSeconds.toUInt(), rootCertificatePem) }

    suspend fun devices(): DeviceList = io { inner.listDevices() }

    /** Office device: revokes a lost phone (it wipes itself when it next connects); returns the new key epoch. */
    suspend fun revokeDevice(deviceId: String): Int = io { inner.revokeDevice(deviceId) }.toInt()
    suspend fun rotateKey(): Int = io { inner.rotateKey() }.toInt()

    /**
     * The sync engine of this (enrolled) vault, shared by the app's screens and [SyncWorker]: one per
     * process at a time. After [Sync.stop] or [Sync.close] the next call makes a new engine (a stopped
     * engine never restarts). Reads the enrolment from the vault (a small sealed read): throws
     * `InvalidInput` before the vault joined a workspace.
     */
    @Synchronized
    fun sync(): Sync = sync ?: Sync(inner.syncEngine(), io, this::detach).also { sync = it }

    /** Called by a [Sync] that stops: forget it, so [sync] makes a new engine. */
    @Synchronized
    private fun detach(ended: Sync) {
        if (sync === ended) sync = null
    }

    override fun close() {
        sync?.close() // detaches itself
        sync = null
        inner.close()
    }
}

/** The office side of pairing one device. */
class Pairing internal constructor(
    private val session: PairingSession,
    private val io: CoroutineDispatcher,
) : AutoCloseable {
    /** The QR code's text (holds the one-time enrollment secret: show it, never log it). Empty after [complete]. */
    val qrText: String get() = session.qrText()

    /** Waits for the phone to enroll; returns its device id. */
    suspend fun complete(timeout: Duration = 2.minutes): String =
        withContext(io) { session.complete(timeout.inWholeSeconds.toUInt()) }

    override fun close() = session.close()
}

/**
 * Sync with the relay: a [StateFlow] of state and progress, passes on demand or in the background.
 * Once stopped ([stop] or [close]) it stays stopped: get a new one from [FieldVault.sync].
 */
class Sync internal constructor(
    private val engine: SyncEngine,
    private val io: CoroutineDispatcher,
    private val detach: (Sync) -> Unit,
) : AutoCloseable {
    private val ended = AtomicBoolean(false)
    private val started = AtomicBoolean(false)

    private val _state = MutableStateFlow(engine.state())
    private val _progress = MutableStateFlow(SyncProgress(0uL, 0uL, null))

    /** For a status bar: phase (idle, pushing, pulling, backoff, offline, revoked), pending work, last error. */
    val state: StateFlow<SyncState> = _state.asStateFlow()

    /** Pending change sets and bytes, and the transfer in progress. */
    val progress: StateFlow<SyncProgress> = _progress.asStateFlow()

    val isRevoked: Boolean get() = _state.value.phase == SyncPhase.REVOKED

    init {
        engine.setStateListener(object : SyncStateListener {
            override fun onState(state: SyncState) {
                _state.value = state
            }
        })
        engine.setProgressListener(object : SyncProgressListener {
            override fun onProgress(progress: SyncProgress) {
                _progress.value = progress
            }
        })
    }

    /** True once [stop] or [close] was called. */
    val isStopped: Boolean get() = ended.get()

    /**
     * One pass now. Throws FieldVaultException.Revoked (after the wipe) if this phone was revoked, and
     * FieldVaultException.Cancelled if this Sync is (or gets) stopped.
     */
    suspend fun syncNow(): SyncReport {
        if (ended.get()) throw FieldVaultException.Cancelled("this sync was stopped; ask FieldVault.sync() for a new one")
        return withContext(io) { engine.syncOnce() }
    }

    /**
     * Starts the background loop while the app runs (WorkManager covers the rest: [SyncWorker]). Once per
     * Sync: later calls (a recreated activity) do nothing, rather than starting a second loop.
     */
    fun start(interval: Duration = 60.seconds) {
        check(!ended.get()) { "this sync was stopped; ask FieldVault.sync() for a new one" }
        if (!started.compareAndSet(false, true)) return
        try {
            engine.start(interval.inWholeSeconds.coerceAtLeast(1).toUInt())
        } catch (e: Throwable) {
            started.set(false)
            throw e
        }
    }

    /**
     * Stops the loop and any pass in progress for good, and releases the engine ([close]): [state] and
     * [progress] keep their last values, the other calls become no-ops, and [FieldVault.sync] makes a new engine.
     */
    fun stop() = close()

    fun notifyConnectivity(online: Boolean) {
        if (!ended.get()) engine.notifyConnectivity(online)
    }

    fun requestSync() {
        if (!ended.get()) engine.requestSync()
    }

    override fun close() {
        if (!ended.compareAndSet(false, true)) return
        detach(this)
        engine.cancel()
        engine.close()
    }
}
