// Routes the library's log records to Logcat. Records carry a level, the Rust
// module and a message; the library never puts field values, keys or tokens
// in them.
package jp.fieldvault

import android.util.Log
import jp.fieldvault.ffi.LogLevel
import jp.fieldvault.ffi.Logger
import jp.fieldvault.ffi.clearLogger
import jp.fieldvault.ffi.setLogger

object LogcatLogger : Logger {
    private const val TAG = "FieldVault"

    override fun log(level: LogLevel, target: String, message: String) {
        val priority = when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, TAG, "[$target] $message")
    }

    /** Installs the logger; `LogLevel.INFO` in release builds, `DEBUG` while developing. */
    fun install(maxLevel: LogLevel = LogLevel.INFO) = setLogger(this, maxLevel)

    fun uninstall() = clearLogger()
}
