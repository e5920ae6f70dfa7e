// Background sync with WorkManager: a periodic pass whenever the phone has a
// network (the OS batches it with other work and respects Doze), plus a
// one-off pass on demand.
package jp.fieldvault

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit
import jp.fieldvault.ffi.FieldVaultException

/**
 * Implemented by the app's Application: hands the worker the vault, opening it if this process has
 * not yet (the worker may be the first thing a cold start runs, possibly while the phone is locked).
 * Return null when there is no vault to sync; let what opening throws propagate (e.g.
 * FieldVaultException.KeyUnavailable while the phone is locked): the worker maps it to a retry or a failure.
 */
interface FieldVaultHost {
    suspend fun fieldVault(): FieldVault?
}

class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val host = applicationContext as? FieldVaultHost ?: return Result.failure()
        // Opening the vault is inside the try: a cold start while the phone is locked fails to
        // unwrap the key (KeyUnavailable) and must be retried, not counted as a failed run.
        // WorkManager's own stop (constraints lost, quota) cancels this coroutine: that
        // CancellationException is not a FieldVaultException and passes through untouched.
        return try {
            val vault = host.fieldVault() ?: return Result.success() // no vault yet: nothing to do
            if (vault.syncSettings() == null) return Result.success() // not enrolled yet
            vault.sync().syncNow()
            Result.success()
        } catch (e: FieldVaultException.Revoked) {
            // The vault has wiped itself: stop scheduling for good.
            cancel(applicationContext)
            Result.failure()
        } catch (e: FieldVaultException.KeyUnavailable) {
            Result.retry() // phone locked (keystore refuses until unlock) or keystore busy
        } catch (e: FieldVaultException.Network) {
            Result.retry()
        } catch (e: FieldVaultException.RelayUnavailable) {
            Result.retry() // relay busy, failing or timed out: exponential backoff
        } catch (e: FieldVaultException.Relay) {
            // A lasting refusal (unknown device, clock far off, ...): retrying the same request
            // in a backoff loop only drains the battery. A periodic request still runs at its
            // next period, by when the cause may be fixed; a one-off one ends here.
            Result.failure()
        } catch (e: FieldVaultException.AwaitingKey) {
            Result.retry() // the admin's new workspace key has not arrived yet
        } catch (e: FieldVaultException.Locked) {
            Result.retry() // offline lease: a successful pass is what renews it
        } catch (e: FieldVaultException.Storage) {
            Result.retry() // disk full, database busy, I/O error: may clear
        } catch (e: FieldVaultException.Cancelled) {
            Result.retry() // the app stopped the shared Sync during this pass
        } catch (e: FieldVaultException) {
            // WrongKey (keystore key gone: the vault cannot be opened again), NotAVault, Corrupted,
            // UnsupportedVersion, Crypto, Internal, ...: retrying will not help. A periodic request
            // still runs at its next period; a one-off one ends here.
            Result.failure()
        }
    }

    companion object {
        private const val PERIODIC = "fieldvault-sync"
        private const val NOW = "fieldvault-sync-now"

        private val network = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Schedules the periodic pass (every 15 minutes, the OS minimum, when online). */
        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
                .setConstraints(network)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** One pass as soon as there is a network (e.g. after saving a report). */
        fun syncSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(network)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(NOW, ExistingWorkPolicy.REPLACE, request)
        }

        fun cancel(context: Context) {
            WorkManager.getInstance(context).cancelUniqueWork(PERIODIC)
            WorkManager.getInstance(context).cancelUniqueWork(NOW)
        }
    }
}
