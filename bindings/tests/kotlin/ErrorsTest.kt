package jp.fieldvault.tests

import java.io.File
import java.io.RandomAccessFile
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.FieldVault
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.ListFilter
import jp.fieldvault.ffi.coreErrorForTests
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleTaxAssist
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

@Timeout(120)
class ErrorsTest {
    /** Every core error variant, through the public mapping, as its Kotlin exception and message. */
    @Test
    fun `every core error maps to a Kotlin exception with a clear message`() {
        val id = "0190b6a0-0000-7000-8000-000000000001"
        val expected = mapOf(
            "WrongKey" to (FieldVaultException.WrongKey::class to "wrong key or passphrase: the vault could not be unlocked"),
            "KeyUnavailable" to (FieldVaultException.KeyUnavailable::class to "the key provider is unavailable: keystore locked"),
            "NotAVault" to (FieldVaultException.NotAVault::class to "not a FieldVault vault: no vault.db"),
            "AlreadyExists" to (FieldVaultException.AlreadyExists::class to "a vault already exists at /tmp/v"),
            "UnsupportedVersion" to (FieldVaultException.UnsupportedVersion::class to "vault format version 9 is not supported (this library reads up to 1)"),
            "Corrupted" to (FieldVaultException.Corrupted::class to "the header of a document is corrupted or was tampered with"),
            "NotFound" to (FieldVaultException.NotFound::class to "document $id was not found"),
            "WrongKind" to (FieldVaultException.WrongKind::class to "document $id is a bear_sighting document, not a tax_assist document"),
            "Validation" to (FieldVaultException.Validation::class to "invalid document: 1 invalid field: envelope.municipality_code (bad_check_digit: the check digit does not match)"),
            "InvalidInput" to (FieldVaultException.InvalidInput::class to "invalid input: bad option"),
            "Locked" to (FieldVaultException.Locked::class to "document $id is locked"),
            "Network" to (FieldVaultException.Network::class to "network error: could not connect to the relay"),
            "Relay" to (FieldVaultException.Relay::class to "the relay refused the request (403 forbidden): not allowed"),
            "RelayUnavailable" to (FieldVaultException.RelayUnavailable::class to "the relay refused the request (503 busy): the relay is busy; retry later"),
            "Revoked" to (FieldVaultException.Revoked::class to "this device has been revoked"),
            "AwaitingKey" to (FieldVaultException.AwaitingKey::class to "waiting for the workspace key of epoch 3 from the admin device; changes stay queued"),
            "Photo" to (FieldVaultException.Photo::class to "the image is truncated: its data ends before the image is complete"),
            "Cancelled" to (FieldVaultException.Cancelled::class to "cancelled"),
            "Storage" to (FieldVaultException.Storage::class to "storage error: disk full"),
            "Io" to (FieldVaultException.Storage::class to "storage error: permission denied"),
            "Crypto" to (FieldVaultException.Crypto::class to "cryptographic failure: random source failed"),
            "Internal" to (FieldVaultException.Internal::class to "internal error: invariant"),
        )
        for ((variant, pair) in expected) {
            val (cls, message) = pair
            val e = assertThrows<FieldVaultException> { coreErrorForTests(variant) }
            assertEquals(cls, e::class, variant)
            assertEquals(message, e.message, variant)
        }
        // Every public variant is covered above.
        val publicVariants = FieldVaultException::class.sealedSubclasses.map { it.simpleName }.toSet()
        assertEquals(publicVariants, expected.values.map { it.first.simpleName }.toSet())
    }

    /** The variants a real scenario can provoke, provoked for real. */
    @Test
    fun `real failures raise the matching exceptions`() {
        val keys = AesGcmKeyProvider()
        val (vault, dir) = newVault("errors", keys)
        val bear = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))

        val exists = assertThrows<FieldVaultException.AlreadyExists> { FieldVault.create(dir.path, keys, "x") }
        assertEquals("a vault already exists at ${dir.path}", exists.message)
        val notAVault = assertThrows<FieldVaultException.NotAVault> { FieldVault.open(Dirs.fresh("empty").path, keys, "x") }
        assertTrue(notAVault.message!!.startsWith("not a FieldVault vault: "), notAVault.message)
        val locked = assertThrows<FieldVaultException.KeyUnavailable> { FieldVault.open(dir.path, LockedKeyProvider(), "x") }
        assertEquals("the key provider is unavailable: the keystore is locked", locked.message)
        val broken = assertThrows<FieldVaultException.KeyUnavailable> { FieldVault.create(Dirs.fresh("broken").path, BrokenKeyProvider(), "x") }
        assertTrue(broken.message!!.contains("hardware fault"), broken.message)

        val wrongKind = assertThrows<FieldVaultException.WrongKind> { vault.getTaxAssist(bear) }
        assertEquals("document $bear is a bear_sighting document, not a tax_assist document", wrongKind.message)
        val myNumberOnBear = assertThrows<FieldVaultException.WrongKind> { vault.setMyNumber(bear, "123456789018") }
        assertTrue(myNumberOnBear.message!!.contains("bear_sighting"))
        val badId = assertThrows<FieldVaultException.InvalidInput> { vault.getBearSighting("not-a-uuid") }
        assertEquals("invalid input: a document id is not well formed", badId.message)
        val badTime = assertThrows<FieldVaultException.InvalidInput> {
            vault.newDamageReport(MUNICIPALITY, "台風", 1u, "yesterday")
        }
        assertEquals("invalid input: an RFC 3339 timestamp is not well formed", badTime.message)
        val badMyNumber = assertThrows<FieldVaultException.Validation> {
            val tax = vault.insertTaxAssist(sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY)))
            vault.setMyNumber(tax, "123456789012")
        }
        assertTrue(!badMyNumber.message!!.contains("123456789012"), "never echoes the number")
        val garbage = assertThrows<FieldVaultException> { vault.mergeChanges(byteArrayOf(1, 2, 3)) }
        assertTrue(garbage is FieldVaultException.InvalidInput || garbage is FieldVaultException.Corrupted, garbage.toString())
        vault.close()

        // Tamper with the database file: flip bytes in every page except the
        // first (SQLite's header and schema) and the one holding the wrapped
        // root key (damaging that is reported as WrongKey), so document rows
        // and the b-tree pages above them are damaged.
        val db = File(dir, "vault.db")
        val bytes = db.readBytes()
        val wrapped = keys.lastWrapped!!
        val metaPage = (0..bytes.size - wrapped.size).first { i -> wrapped.indices.all { bytes[i + it] == wrapped[it] } } / 4096
        RandomAccessFile(db, "rw").use { f ->
            val pages = f.length() / 4096
            for (page in 1 until pages) {
                if (page.toInt() == metaPage) continue
                for (off in 64 until 4000 step 61) {
                    val at = page * 4096 + off
                    f.seek(at); val b = f.read(); f.seek(at); f.write(b xor 0x55)
                }
            }
        }
        val outcome = runCatching {
            FieldVault.open(dir.path, keys, "x").use { damaged ->
                damaged.getBearSighting(bear)
                damaged.list(ListFilter(null, null, null, null))
            }
        }
        val e = outcome.exceptionOrNull()
        if (e == null) {
            assertTrue(outcome.getOrThrow().unreadable > 0uL, "tampering went unnoticed")
        } else {
            assertTrue(e is FieldVaultException.Corrupted, e.toString())
            assertTrue(e.message!!.endsWith("is corrupted or was tampered with"), e.message)
        }
    }
}
