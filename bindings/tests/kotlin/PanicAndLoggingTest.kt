package jp.fieldvault.tests

import java.util.Collections
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.InternalException
import jp.fieldvault.ffi.LogLevel
import jp.fieldvault.ffi.Logger
import jp.fieldvault.ffi.clearLogger
import jp.fieldvault.ffi.libraryVersion
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.setLogger
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

@Timeout(120)
class PanicAndLoggingTest {
    @Test
    fun `a panic inside the core surfaces as an exception and the process goes on`() {
        val (vault, _) = newVault("panic")
        val id = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        repeat(3) {
            val e = assertThrows<InternalException> { vault.forcePanicForTests(id) }
            assertTrue(e.message!!.contains("forced panic for tests"), e.message)
        }
        // The JVM, the library and this very vault keep working.
        val doc = vault.getBearSighting(id)
        vault.putBearSighting(doc.copy(behaviour = "after the panic"))
        assertEquals("after the panic", vault.getBearSighting(id).behaviour)
        assertTrue(vault.integrityCheck())
        assertTrue(libraryVersion().isNotEmpty())
        vault.close()
    }

    @Test
    fun `the logger receives level, target and message, never values`() {
        val records = Collections.synchronizedList(mutableListOf<Triple<LogLevel, String, String>>())
        setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) {
                records += Triple(level, target, message)
            }
        }, LogLevel.DEBUG)
        try {
            val (vault, _) = newVault("logging")
            val canary = "ログ-カナリア-${System.nanoTime()}"
            val env = vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)
            vault.insertBearSighting(sampleBearSighting(env).copy(placeDescription = canary))
            vault.close()
            val snapshot = records.toList()
            assertTrue(snapshot.any { it.first == LogLevel.INFO && it.second == "fieldvault::vault" && it.third == "vault created" }, snapshot.toString())
            assertTrue(snapshot.all { it.second.startsWith("fieldvault") })
            assertFalse(snapshot.any { it.third.contains(canary) })
        } finally {
            clearLogger()
        }
    }

    @Test
    fun `a logger that throws cannot break a vault operation`() {
        setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) {
                throw IllegalStateException("logger broke")
            }
        }, LogLevel.TRACE)
        try {
            val keys = AesGcmKeyProvider()
            val (vault, dir) = newVault("throwing-logger", keys) // logs "vault created"
            val id = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
            vault.close()
            val reopened = jp.fieldvault.ffi.FieldVault.open(dir.path, keys, "staff") // logs "vault opened"
            assertEquals(DocumentKind.BEAR_SIGHTING, reopened.summary(id).kind)
            reopened.close()
        } finally {
            clearLogger()
        }
    }
}
