package jp.fieldvault.tests

import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.PhotoVariant
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleTaxAssist
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/** JPEG segments between SOI and SOS: (marker, offset). */
fun jpegMarkers(bytes: ByteArray): List<Int> {
    val markers = mutableListOf<Int>()
    var i = 2
    while (i + 4 <= bytes.size && bytes[i] == 0xFF.toByte()) {
        val marker = bytes[i + 1].toInt() and 0xFF
        markers += marker
        if (marker == 0xDA) break
        val length = ((bytes[i + 2].toInt() and 0xFF) shl 8) or (bytes[i + 3].toInt() and 0xFF)
        i += 2 + length
    }
    return markers
}

@Timeout(120)
class PhotoTest {
    @Test
    fun `a phone photo is sanitized, resized, sealed and read back`() = runBlocking {
        val (vault, _) = newVault("photo")
        val bytes = Corpus.phonePhoto()
        val fromCorpus = Corpus.dir != null
        val id = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        val photo = vault.ingestPhoto(id, bytes)
        assertEquals(64, photo.sha256Hex.length)
        assertTrue(photo.width in 1u..2048u && photo.height in 1u..2048u, "${photo.width}x${photo.height}")
        assertEquals("jpeg", photo.sourceFormat)
        if (fromCorpus) {
            // iPhone 5, GPS 47.6272N 122.3373W: kept in the sealed document (bear sightings keep position).
            assertNotNull(photo.position); val position = photo.position!!
            assertEquals(47.6272, position.latitude, 0.001)
            assertEquals(-122.3373, position.longitude, 0.001)
            assertTrue("downscaled" in photo.flags, photo.flags.toString())
        }
        assertEquals(listOf(photo), vault.getBearSighting(id).envelope.photos)
        // The same picture again is stored once.
        assertEquals(photo, vault.ingestPhoto(id, bytes))

        val display = vault.readPhoto(id, photo.id, PhotoVariant.DISPLAY)
        val thumb = vault.readPhoto(id, photo.id, PhotoVariant.THUMBNAIL)
        assertEquals(photo.byteSize, display.size.toULong())
        for (jpeg in listOf(display, thumb)) {
            assertEquals(0xFF.toByte(), jpeg[0]); assertEquals(0xD8.toByte(), jpeg[1])
            val markers = jpegMarkers(jpeg)
            assertFalse(markers.any { it in 0xE1..0xEF || it == 0xFE }, "metadata segment left: $markers")
        }
        assertTrue(thumb.size < display.size)
        vault.close()
    }

    @Test
    fun `tax forms keep no position, HEIC is refused with a hint`() = runBlocking {
        val (vault, _) = newVault("photo-tax")
        val id = vault.insertTaxAssist(sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY)))
        val photo = vault.ingestPhoto(id, Corpus.phonePhoto())
        assertNull(photo.position)

        val heic = Corpus.file("photos/camera/iphone13promax_12mp_orient6.heic")?.readBytes()
            ?: (byteArrayOf(0, 0, 0, 0x18) + "ftypheic".toByteArray() + ByteArray(64))
        val e = assertThrows<FieldVaultException.Photo> { vault.ingestPhoto(id, heic) }
        assertTrue(e.message!!.startsWith("unsupported image format (heic)"), e.message)
        val truncated = Corpus.generatedJpeg(200, 200).let { it.copyOf(it.size / 2) }
        val t = assertThrows<FieldVaultException.Photo> { vault.ingestPhoto(id, truncated) }
        assertTrue(t.message!!.contains("truncated"), t.message)
        vault.close()
    }
}
