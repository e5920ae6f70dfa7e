package jp.fieldvault.sample

import android.app.Application
import jp.fieldvault.AndroidKeystoreKeyProvider
import jp.fieldvault.FieldVault
import jp.fieldvault.FieldVaultHost
import jp.fieldvault.LogcatLogger
import jp.fieldvault.SyncWorker
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext

/** Opens the vault once per process (keystore-wrapped key) and schedules background sync. */
class SampleApplication : Application(), FieldVaultHost {
    private val lock = Mutex()
    private var vault: FieldVault? = null
    /** Outlives the activities: closing a wiped vault must finish even if the screen goes away. */
    private val scope = MainScope()

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

    /**
     * Sync reported this device revoked: the engine has already wiped [wiped] (keys first, then its
     * files). Forget and close the handle so nothing uses it again (the screens nor [SyncWorker]),
     * and stop background sync as the worker itself does on Revoked; the next [fieldVault] (a new
     * set-up) creates a fresh, unenrolled vault. Started undispatched, so the lock is requested now
     * (the mutex is FIFO): a [fieldVault] called after this never gets the wiped vault back.
     */
    fun forgetVault(wiped: FieldVault) {
        SyncWorker.cancel(this)
        scope.launch(start = CoroutineStart.UNDISPATCHED) {
            lock.withLock { if (vault === wiped) vault = null }
            // Also closes its Sync; releasing the native vault may touch the disk: not on the main thread.
            withContext(Dispatchers.IO) { wiped.close() }
        }
    }

    companion object {
        /** In a real app: the signed-in staff member (職員番号). */
        const val STAFF_ID = "staff-0012"
        /** 札幌市 — the municipality of the demo. */
        const val MUNICIPALITY = "011002"
    }
}
