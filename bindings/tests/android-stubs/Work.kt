package androidx.work

import android.content.Context
import java.util.concurrent.TimeUnit

class WorkerParameters

abstract class ListenableWorker(val applicationContext: Context, params: WorkerParameters) {
    abstract class Result {
        companion object {
            fun success(): Result = object : Result() {}
            fun failure(): Result = object : Result() {}
            fun retry(): Result = object : Result() {}
        }
    }
}

abstract class CoroutineWorker(context: Context, params: WorkerParameters) : ListenableWorker(context, params) {
    abstract suspend fun doWork(): Result
}

enum class NetworkType { CONNECTED }
enum class BackoffPolicy { EXPONENTIAL }
enum class ExistingPeriodicWorkPolicy { KEEP }
enum class ExistingWorkPolicy { REPLACE }

class Constraints {
    class Builder {
        fun setRequiredNetworkType(type: NetworkType): Builder = this
        fun build(): Constraints = Constraints()
    }
}

open class WorkRequest
class PeriodicWorkRequest : WorkRequest()
class OneTimeWorkRequest : WorkRequest()

class PeriodicWorkRequestBuilder(interval: Long, unit: TimeUnit) {
    fun setConstraints(c: Constraints) = this
    fun setBackoffCriteria(policy: BackoffPolicy, delay: Long, unit: TimeUnit) = this
    fun build() = PeriodicWorkRequest()
}

class OneTimeWorkRequestBuilder {
    fun setConstraints(c: Constraints) = this
    fun build() = OneTimeWorkRequest()
}

@Suppress("FunctionName", "UNUSED_PARAMETER")
inline fun <reified W : ListenableWorker> PeriodicWorkRequestBuilder(interval: Long, unit: TimeUnit) =
    PeriodicWorkRequestBuilder(interval, unit)

@Suppress("FunctionName")
inline fun <reified W : ListenableWorker> OneTimeWorkRequestBuilder() = OneTimeWorkRequestBuilder()

class WorkManager {
    fun enqueueUniquePeriodicWork(name: String, policy: ExistingPeriodicWorkPolicy, request: PeriodicWorkRequest) {}
    fun enqueueUniqueWork(name: String, policy: ExistingWorkPolicy, request: OneTimeWorkRequest) {}
    fun cancelUniqueWork(name: String) {}

    companion object {
        fun getInstance(context: Context): WorkManager = WorkManager()
    }
}
