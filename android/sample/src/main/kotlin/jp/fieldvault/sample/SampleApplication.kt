package jp.fieldvault.sample

import android.app.Application
import jp.fieldvault.AndroidKeystoreKeyProvider
import jp.fieldvault.FieldVault
import jp.fieldvault.FieldVaultHost
import jp.fieldvault.LogcatLogger
import jp.fieldvault.SyncWorker
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/** Opens the vault once per process (keystore-wrapped key) and schedules background sync. */
class SampleApplication : Application(), FieldVaultHost {
    private val lock = Mutex()
    private var vault: FieldVault? = null

    override fun onCreate() {
        super.onCreate()
        LogcatLogger.install()
        SyncWorker.schedule(this)
    }

    override suspend fun fieldVault(): FieldVault = lock.withLock {
        vault ?: FieldVault.openOrCreate(
            context = this,
            staffId = STAFF_ID,
            keys = AndroidKeystoreKeyProvider(strongBoxAvailable = AndroidKeystoreKeyProvider.hasStrongBox(packageManager)),
        ).also { vault = it }
    }

    companion object {
        /** In a real app: the signed-in staff member (職員番号). */
        const val STAFF_ID = "staff-0012"
        /** 札幌市 — the municipality of the demo. */
        const val MUNICIPALITY = "011002"
    }
}
