// The vault's root key, wrapped by a non-exportable AES-256-GCM key that lives
// in the Android Keystore (in StrongBox where the phone has one). The keystore
// key never leaves the secure hardware; only the wrapped blob is stored (by the
// core, in the vault), and the unwrapped root key exists only in memory.
package jp.fieldvault

import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import jp.fieldvault.ffi.KeyProvider
import jp.fieldvault.ffi.KeyProviderException

class AndroidKeystoreKeyProvider(
    private val alias: String = "jp.fieldvault.root-wrap.v1",
    /** Refuse to unwrap while the phone is locked (API 28+). */
    private val unlockedDeviceRequired: Boolean = true,
    /** Whether the phone offers StrongBox (pass `packageManager.hasSystemFeature(FEATURE_STRONGBOX_KEYSTORE)`). */
    private val strongBoxAvailable: Boolean? = null,
) : KeyProvider {

    /** True once the key was created in (or found to be in) StrongBox. */
    @Volatile var isStrongBoxBacked: Boolean = false
        private set

    private val keyStore: KeyStore by lazy { KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) } }

    @Synchronized
    private fun key(create: Boolean): SecretKey {
        (keyStore.getKey(alias, null) as? SecretKey)?.let { return it }
        if (!create) throw KeyProviderException.WrongKey()
        if (strongBoxAvailable != false && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            try {
                return generate(strongBox = true).also { isStrongBoxBacked = true }
            } catch (_: StrongBoxUnavailableException) {
                // Fall through to the TEE-backed keystore.
            }
        }
        return generate(strongBox = false)
    }

    private fun generate(strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .apply {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                    setIsStrongBoxBacked(strongBox)
                    setUnlockedDeviceRequired(unlockedDeviceRequired)
                }
            }
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
            .apply { init(spec) }
            .generateKey()
    }

    /** Blob: version(1) || IV(12, chosen by the keystore) || ciphertext || tag(16). */
    override fun wrap(key: ByteArray): ByteArray {
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, key(create = true))
            cipher.updateAAD(AAD)
            val iv = cipher.iv
            check(iv.size == IV_BYTES) { "unexpected IV length" }
            return byteArrayOf(VERSION) + iv + cipher.doFinal(key)
        } catch (e: KeyProviderException) {
            throw e
        } catch (e: UserNotAuthenticatedException) {
            throw KeyProviderException.Unavailable("unlock the phone to open the vault")
        } catch (e: GeneralSecurityException) {
            throw KeyProviderException.Unavailable("the Android Keystore refused to wrap the key (${e.javaClass.simpleName})")
        } finally {
            key.fill(0)
        }
    }

    override fun unwrap(wrapped: ByteArray): ByteArray {
        if (wrapped.size < 1 + IV_BYTES + TAG_BYTES || wrapped[0] != VERSION) throw KeyProviderException.WrongKey()
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key(create = false), GCMParameterSpec(TAG_BYTES * 8, wrapped, 1, IV_BYTES))
            cipher.updateAAD(AAD)
            return cipher.doFinal(wrapped, 1 + IV_BYTES, wrapped.size - 1 - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw KeyProviderException.WrongKey()
        } catch (e: KeyPermanentlyInvalidatedException) {
            // The lock screen was removed or reset: the keystore destroyed the key.
            throw KeyProviderException.WrongKey()
        } catch (e: UserNotAuthenticatedException) {
            throw KeyProviderException.Unavailable("unlock the phone to open the vault")
        } catch (e: GeneralSecurityException) {
            throw KeyProviderException.Unavailable("the Android Keystore refused to unwrap the key (${e.javaClass.simpleName})")
        }
    }

    companion object {
        private const val ANDROID_KEYSTORE = "AndroidKeyStore"
        private const val TRANSFORMATION = "AES/GCM/NoPadding"
        private const val VERSION: Byte = 1
        private const val IV_BYTES = 12
        private const val TAG_BYTES = 16
        private val AAD = "fieldvault root key v1".toByteArray()

        /** Whether this phone has a StrongBox keystore. */
        fun hasStrongBox(packageManager: PackageManager): Boolean =
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
                packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
    }
}
