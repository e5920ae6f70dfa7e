// Shared helpers of the desktop JVM suite: a javax.crypto key provider, temp
// directories, the corpus, and relay processes on 127.0.0.1.
package jp.fieldvault.tests

import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.security.SecureRandom
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import javax.imageio.ImageIO
import jp.fieldvault.ffi.FieldVault
import jp.fieldvault.ffi.KeyProvider
import jp.fieldvault.ffi.KeyProviderException

const val MUNICIPALITY = "011002" // 札幌市
const val OPERATOR_TOKEN = "kotlin-suite-operator-token-0123456789"

/**
 * What an app does with the platform keystore, with javax.crypto: a 256-bit
 * AES key that never leaves this object wraps the vault's root key with
 * AES-GCM (12-byte random nonce || ciphertext || tag).
 */
class AesGcmKeyProvider(private val key: SecretKey = newKey()) : KeyProvider {
    var wraps = 0
    var unwraps = 0
    /** The last blob `wrap` returned (what the vault stores); tests use it to find the meta page. */
    var lastWrapped: ByteArray? = null

    override fun wrap(key: ByteArray): ByteArray {
        wraps++
        try {
            val nonce = ByteArray(12).also { SecureRandom().nextBytes(it) }
            val cipher = Cipher.getInstance("AES/GCM/NoPadding")
            cipher.init(Cipher.ENCRYPT_MODE, this.key, GCMParameterSpec(128, nonce))
            cipher.updateAAD(AAD)
            return (nonce + cipher.doFinal(key)).also { lastWrapped = it }
        } finally {
            key.fill(0)
        }
    }

    override fun unwrap(wrapped: ByteArray): ByteArray {
        unwraps++
        if (wrapped.size < 12 + 16) throw KeyProviderException.WrongKey()
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 0, 12))
        cipher.updateAAD(AAD)
        try {
            return cipher.doFinal(wrapped, 12, wrapped.size - 12)
        } catch (e: AEADBadTagException) {
            throw KeyProviderException.WrongKey()
        }
    }

    companion object {
        private val AAD = "fieldvault root key v1".toByteArray()
        fun newKey(): SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    }
}

/** A keystore that is locked (the user cancelled the prompt). */
class LockedKeyProvider : KeyProvider {
    override fun wrap(key: ByteArray): ByteArray =
        throw KeyProviderException.Unavailable("the keystore is locked")
    override fun unwrap(wrapped: ByteArray): ByteArray =
        throw KeyProviderException.Unavailable("the keystore is locked")
}

/** A provider whose implementation is broken (throws an unrelated exception). */
class BrokenKeyProvider : KeyProvider {
    override fun wrap(key: ByteArray): ByteArray = throw IllegalStateException("hardware fault")
    override fun unwrap(wrapped: ByteArray): ByteArray = throw IllegalStateException("hardware fault")
}

object Dirs {
    private val root: File by lazy {
        val base = System.getenv("FIELDVAULT_TEST_TMP")?.let { File(it) }
        (base?.also { it.mkdirs() }?.let { Files.createTempDirectory(it.toPath(), "kt-").toFile() }
            ?: Files.createTempDirectory("fieldvault-kt-").toFile())
    }

    fun fresh(name: String): File = Files.createTempDirectory(root.toPath(), "$name-").toFile()

    fun deleteAll() {
        root.deleteRecursively()
    }
}

fun newVault(name: String, keys: KeyProvider = AesGcmKeyProvider(), staff: String = "staff-$name"): Pair<FieldVault, File> {
    val dir = File(Dirs.fresh(name), "vault")
    return FieldVault.create(dir.path, keys, staff) to dir
}

/** The shared corpus (env FIELDVAULT_CORPUS, else ../shared/corpus beside the repository). */
object Corpus {
    val dir: File? by lazy {
        val fromEnv = System.getenv("FIELDVAULT_CORPUS")?.let { File(it) }
        val candidates = listOfNotNull(fromEnv, System.getenv("FIELDVAULT_REPO")?.let { File(it, "../shared/corpus") })
        candidates.firstOrNull { File(it, "MANIFEST.md").isFile }
    }

    fun file(relative: String): File? = dir?.let { File(it, relative) }?.takeIf { it.isFile }

    /** A real phone photo with GPS, or (corpus absent) a JPEG made here. */
    fun phonePhoto(): ByteArray =
        file("photos/camera/iphone5_orient3_gps.jpg")?.readBytes() ?: generatedJpeg(640, 480)

    fun generatedJpeg(width: Int, height: Int): ByteArray {
        val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
        for (y in 0 until height) for (x in 0 until width) {
            image.setRGB(x, y, ((x * 255 / width) shl 16) or ((y * 255 / height) shl 8) or 0x40)
        }
        val out = ByteArrayOutputStream()
        check(ImageIO.write(image, "jpg", out)) { "no JPEG writer" }
        return out.toByteArray()
    }
}

/** A `fieldvault-relay serve` process on 127.0.0.1 with a random port. */
class Relay private constructor(private val process: Process, val url: String, val log: File) : AutoCloseable {
    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(10, TimeUnit.SECONDS)
        }
    }

    companion object {
        fun start(): Relay {
            val bin = System.getenv("FIELDVAULT_RELAY_BIN")
                ?: error("FIELDVAULT_RELAY_BIN is not set (scripts/test-kotlin sets it)")
            val dir = Dirs.fresh("relay")
            val log = File(dir, "relay.log")
            val process = ProcessBuilder(bin, "serve", "--data", File(dir, "data").path, "--listen", "127.0.0.1:0")
                .redirectError(log)
                .apply { environment()["FIELDVAULT_OPERATOR_TOKEN"] = OPERATOR_TOKEN }
                .start()
            val lines = LinkedBlockingQueue<String>()
            Thread {
                process.inputStream.bufferedReader().useLines { seq -> seq.forEach { lines.put(it) } }
            }.apply { isDaemon = true }.start()
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
            while (System.nanoTime() < deadline) {
                val line = lines.poll(200, TimeUnit.MILLISECONDS)
                if (line != null && line.startsWith("listening on ")) {
                    return Relay(process, line.removePrefix("listening on ").trim(), log)
                }
                if (line == null && !process.isAlive) break
            }
            process.destroyForcibly()
            error("the relay did not start within 60 s; log:\n" + log.readText())
        }
    }
}

/**
 * Runs `block` and returns the exception of type [T] it throws (fails
 * otherwise). Inline, so `block` may call suspend functions when the caller is
 * a coroutine.
 */
inline fun <reified T : Throwable> assertThrows(block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}
