package jp.fieldvault.tests

import java.util.concurrent.atomic.AtomicInteger
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.ListFilter
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleDamageReport
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

@Timeout(180)
class ConcurrencyTest {
    @Test
    fun `many coroutines call one vault at once`() = runBlocking {
        val (vault, _) = newVault("concurrent")
        val photo = Corpus.generatedJpeg(800, 600)
        val errors = AtomicInteger()
        val ids = (0 until 64).map { i ->
            async(Dispatchers.IO) {
                try {
                    val env = vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)
                    val id = vault.insertBearSighting(sampleBearSighting(env).copy(placeDescription = "地点 $i"))
                    val back = vault.getBearSighting(id)
                    assertEquals("地点 $i", back.placeDescription)
                    vault.putBearSighting(back.copy(behaviour = "edit $i"))
                    vault.list(ListFilter(DocumentKind.BEAR_SIGHTING, null, null, null))
                    if (i % 8 == 0) vault.ingestPhoto(id, photo) // suspend: runs on a library worker
                    id
                } catch (e: Throwable) {
                    errors.incrementAndGet(); throw e
                }
            }
        }.awaitAll()
        assertEquals(0, errors.get())
        assertEquals(64, ids.toSet().size)
        val listed = withContext(Dispatchers.IO) { vault.list(ListFilter(null, null, null, null)) }
        assertEquals(64, listed.documents.size)
        for ((i, id) in ids.withIndex()) {
            assertEquals("edit $i", vault.getBearSighting(id).behaviour)
            assertEquals(if (i % 8 == 0) 1 else 0, vault.getBearSighting(id).envelope.photos.size)
        }
        // Several vaults in parallel too.
        (0 until 8).map { i ->
            async(Dispatchers.IO) {
                val (v, _) = newVault("parallel-$i")
                v.insertDamageReport(sampleDamageReport(v.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY)))
                v.close()
            }
        }.awaitAll()
        vault.close()
    }
}
