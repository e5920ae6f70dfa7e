package jp.fieldvault.tests

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.util.Collections
import jp.fieldvault.ffi.DeviceRole
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.FieldVault
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.ListFilter
import jp.fieldvault.ffi.PhotoVariant
import jp.fieldvault.ffi.SyncPhase
import jp.fieldvault.ffi.SyncProgress
import jp.fieldvault.ffi.SyncProgressListener
import jp.fieldvault.ffi.SyncState
import jp.fieldvault.ffi.SyncStateListener
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleDamageReport
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.Timeout

/** Admin (office) + members paired through the relay, as `tests/src/lib.rs` does in Rust. */
class Member(val vault: FieldVault, val dir: java.io.File)

suspend fun pairedWorkspace(relay: Relay, vararg members: String): Pair<FieldVault, List<Member>> = coroutineScope {
    val (admin, _) = newVault("admin")
    val settings = admin.createWorkspace(relay.url, OPERATOR_TOKEN, 72u)
    assertEquals(DeviceRole.ADMIN, settings.role)
    val joined = members.map { name ->
        val (member, dir) = newVault(name)
        val session = admin.startPairing(600u)
        val joining = async { member.joinWorkspace(session.qrText(), name, 30u) }
        val completing = async { session.complete(30u) }
        assertEquals(DeviceRole.MEMBER, joining.await().role)
        assertEquals(member.deviceId(), completing.await())
        session.close()
        Member(member, dir)
    }
    admin to joined
}

/** Polls (bounded) until `check` holds. */
suspend fun eventually(what: String, timeoutMs: Long = 20_000, check: () -> Boolean) {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (!check()) {
        if (System.currentTimeMillis() > deadline) throw AssertionError("timed out waiting for $what")
        delay(50)
    }
}

@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SyncTest {
    private lateinit var relay: Relay

    @BeforeAll
    fun startRelay() {
        relay = Relay.start()
    }

    @AfterAll
    fun stopRelay() {
        relay.close()
    }

    @Test
    fun `two vaults sync documents and photos through a real relay`() = runBlocking {
        val (office, members) = pairedWorkspace(relay, "field")
        val field = members.single().vault
        // Written before the engine exists: its first state already counts them.
        val sighting = field.insertBearSighting(sampleBearSighting(field.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        val photo = field.ingestPhoto(sighting, Corpus.phonePhoto())
        val officeEngine = office.syncEngine()
        val fieldEngine = field.syncEngine()

        val states = Collections.synchronizedList(mutableListOf<SyncState>())
        val progress = Collections.synchronizedList(mutableListOf<SyncProgress>())
        fieldEngine.setStateListener(object : SyncStateListener {
            override fun onState(state: SyncState) { states += state }
        })
        fieldEngine.setProgressListener(object : SyncProgressListener {
            override fun onProgress(p: SyncProgress) { progress += p }
        })
        // A listener that throws keeps being called (the library contains the failure).
        val afterThrow = Collections.synchronizedList(mutableListOf<SyncPhase>())
        fieldEngine.setStateListener(object : SyncStateListener {
            @Volatile var first = true
            override fun onState(state: SyncState) {
                if (first) { first = false; throw IllegalStateException("listener broke") }
                afterThrow += state.phase
            }
        })
        eventually("pending changes reported") { progress.any { it.pendingChanges > 0uL } }
        val pushed = fieldEngine.syncOnce()
        assertTrue(pushed.pushed > 0uL, pushed.toString())
        assertEquals(2uL, pushed.photosUploaded)
        eventually("idle state after the pass") { states.lastOrNull()?.let { it.phase == SyncPhase.IDLE && it.lastSuccessMs != null } == true }
        assertEquals(0uL, fieldEngine.state().pendingChanges)
        eventually("the throwing listener still receives states") { afterThrow.isNotEmpty() }

        val pulled = officeEngine.syncOnce()
        assertTrue(pulled.pulled > 0uL, pulled.toString())
        assertEquals(field.getBearSighting(sighting), office.getBearSighting(sighting))
        val display = office.readPhoto(sighting, photo.id, PhotoVariant.DISPLAY)
        assertEquals(photo.byteSize, display.size.toULong())

        // Concurrent edits merge.
        office.putBearSighting(office.getBearSighting(sighting).copy(behaviour = "沢へ移動"))
        field.putBearSighting(field.getBearSighting(sighting).copy(placeDescription = "藻岩山 3合目"))
        officeEngine.syncOnce(); fieldEngine.syncOnce(); officeEngine.syncOnce()
        for (v in listOf(office, field)) {
            val merged = v.getBearSighting(sighting)
            assertEquals("沢へ移動", merged.behaviour)
            assertEquals("藻岩山 3合目", merged.placeDescription)
        }

        // The background loop, woken by connectivity.
        fieldEngine.notifyConnectivity(false)
        eventually("offline state") { fieldEngine.state().phase == SyncPhase.OFFLINE }
        val lastPass = fieldEngine.state().lastSuccessMs!!
        fieldEngine.start(3600u)
        val report = field.insertDamageReport(sampleDamageReport(field.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY)))
        fieldEngine.notifyConnectivity(true)
        fieldEngine.requestSync()
        eventually("the loop pushed the report") {
            fieldEngine.state().let { it.lastSuccessMs!! > lastPass && it.pendingChanges == 0uL && it.phase == SyncPhase.IDLE }
        }
        officeEngine.syncOnce()
        assertEquals(field.getDamageReport(report), office.getDamageReport(report))
        fieldEngine.cancel()

        val devices = office.listDevices()
        assertEquals(2, devices.devices.size)
        assertEquals(setOf(office.deviceId(), field.deviceId()), devices.devices.map { it.deviceId }.toSet())
        assertEquals(2u, office.rotateKey())
        fieldEngine.close(); officeEngine.close()
        field.close(); office.close()
    }

    @Test
    fun `a revoked device is refused and wiped, the others go on`() = runBlocking {
        val (office, members) = pairedWorkspace(relay, "kept", "lost")
        val kept = members[0].vault
        val lost = members[1].vault
        val lostDir = members[1].dir
        assertEquals(DeviceRole.MEMBER, lost.syncSettings()!!.role)
        val before = kept.insertBearSighting(sampleBearSighting(kept.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        for (v in listOf(kept, lost, office)) v.syncEngine().use { it.syncOnce() }
        assertEquals(kept.getBearSighting(before), lost.getBearSighting(before))

        val lostEngine = lost.syncEngine()
        val phases = Collections.synchronizedList(mutableListOf<SyncPhase>())
        lostEngine.setStateListener(object : SyncStateListener {
            override fun onState(state: SyncState) { phases += state.phase }
        })
        val epoch = office.revokeDevice(lost.deviceId())
        assertEquals(2u, epoch)

        val e = assertThrows<FieldVaultException.Revoked> { runBlocking { lostEngine.syncOnce() } }
        assertEquals("this device has been revoked", e.message)
        assertEquals(SyncPhase.REVOKED, lostEngine.state().phase)
        eventually("listener saw the revocation") { SyncPhase.REVOKED in phases }
        assertTrue(lostDir.isEmptyDir(), "no key material or document left: ${lostDir.list()?.toList()}")
        assertEquals(0, lost.list(ListFilter(null, null, null, null)).documents.size)

        // Work goes on across the rotation; the wipe is reported to the admin.
        val after = kept.insertDamageReport(sampleDamageReport(kept.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY)))
        kept.syncEngine().use { it.syncOnce() }
        office.syncEngine().use { it.syncOnce() }
        assertEquals(kept.getDamageReport(after), office.getDamageReport(after))
        val info = office.listDevices().devices.single { it.deviceId == lost.deviceId() }
        assertNotNull(info.revokedAtMs)
        assertNotNull(info.wipedAtMs)
        lostEngine.close()
        listOf(office, kept, lost).forEach { it.close() }
    }

    @Test
    fun `relay refusals and unreachable relays are typed errors`() = runBlocking {
        val (vault, _) = newVault("bad-token")
        val refused = assertThrows<FieldVaultException.Relay> {
            runBlocking { vault.createWorkspace(relay.url, "not-the-operator-token", 72u) }
        }
        assertTrue(refused.message!!.startsWith("the relay refused the request (401"), refused.message)
        assertTrue(!refused.message!!.contains("not-the-operator-token"))

        // A relay that answers but is overloaded (as the real one does when its body-memory
        // budget is spent): a retry-later error, distinct from the lasting refusal above.
        val busy = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        busy.createContext("/") { exchange ->
            exchange.requestBody.readAllBytes()
            val body = "{\"error\":\"busy\",\"message\":\"the relay is busy; retry later\"}".toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.responseHeaders.add("Retry-After", "5")
            exchange.sendResponseHeaders(503, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        busy.start()
        try {
            val unavailable = assertThrows<FieldVaultException.RelayUnavailable> {
                runBlocking { vault.createWorkspace("http://127.0.0.1:${busy.address.port}", OPERATOR_TOKEN, 72u) }
            }
            assertTrue(unavailable.message!!.startsWith("the relay refused the request (503 busy)"), unavailable.message)
        } finally {
            busy.stop(0)
        }

        val unreachable = assertThrows<FieldVaultException.Network> {
            runBlocking { withTimeout(60_000) { vault.createWorkspace("http://127.0.0.1:9", OPERATOR_TOKEN, 72u) } }
        }
        assertTrue(unreachable.message!!.startsWith("network error: "), unreachable.message)

        val notEnrolled = assertThrows<FieldVaultException.InvalidInput> { vault.syncEngine() }
        assertEquals("invalid input: this vault is not enrolled in a workspace", notEnrolled.message)
        val badQr = assertThrows<FieldVaultException.InvalidInput> { runBlocking { vault.joinWorkspace("not a QR payload", "x", 5u) } }
        assertTrue(badQr.message!!.startsWith("invalid input: "), badQr.message)
        vault.close()
    }

    /** A test CA's certificate (public part only; its key was thrown away). */
    private val testCaPem = """
-----BEGIN CERTIFICATE-----
MIIBozCCAUmgAwIBAgIUe6itKLveaMMNMo48TblBaq9ZTZ0wCgYIKoZIzj0EAwIw
JjEkMCIGA1UEAwwbRmllbGRWYXVsdCB0ZXN0IENBIChLb3RsaW4pMCAXDTI2MTEy
NDEzNTkwM1oYDzIxMjYxMDMxMTM1OTAzWjAmMSQwIgYDVQQDDBtGaWVsZFZhdWx0
IHRlc3QgQ0EgKEtvdGxpbikwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQZWIeb
fGz69szPcV7YTWa+5MG9HQdeuSJO6a9RjXBYme92KoQOxunHgLZFfOq/sC/psTqf
S3onc0bo/vq4Kblpo1MwUTAdBgNVHQ4EFgQUMWqQhkTBi0MltTFAuET+q+xYQY8w
HwYDVR0jBBgwFoAUMWqQhkTBi0MltTFAuET+q+xYQY8wDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNIADBFAiEA8MTPYq0pCGfjGqRmbaRURUDIUdCDMez8mBhc
0Mv6lIkCIBOJ5WY7eeT1i1HOBpPjM+ek2kFpHbNjSrjiqPNUn7h+
-----END CERTIFICATE-----
    """.trimIndent()

    @Test
    fun `the relay's root certificate is replaced only by a real certificate`() = runBlocking {
        val (office, _) = pairedWorkspace(relay)
        assertNull(office.syncSettings()!!.relayRootCertificatePem)

        val garbled = assertThrows<FieldVaultException.InvalidInput> { office.setRelayRootCertificate("not a certificate") }
        assertEquals("invalid input: the root certificate is not valid PEM", garbled.message)
        assertNull(office.syncSettings()!!.relayRootCertificatePem, "nothing recorded")

        val engine = office.syncEngine()
        engine.syncOnce()
        val lastSuccess = office.syncSettings()!!.lastSuccessMs
        office.setRelayRootCertificate(testCaPem)
        assertEquals(testCaPem, office.syncSettings()!!.relayRootCertificatePem)
        assertEquals(lastSuccess, office.syncSettings()!!.lastSuccessMs, "the rest of the enrolment is kept")
        // The running engine rebuilds its client with the certificate and goes on.
        engine.syncOnce()

        office.setRelayRootCertificate(null)
        assertNull(office.syncSettings()!!.relayRootCertificatePem)
        engine.syncOnce()
        engine.close()

        val (stranger, _) = newVault("not-enrolled")
        val notEnrolled = assertThrows<FieldVaultException.InvalidInput> { stranger.setRelayRootCertificate(null) }
        assertEquals("invalid input: this vault is not enrolled in a workspace", notEnrolled.message)
        listOf(office, stranger).forEach { it.close() }
    }
}
