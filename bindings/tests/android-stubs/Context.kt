// Signature stubs of the Android SDK, just enough to type-check the
// hand-written android/fieldvault layer against the generated bindings on the
// desktop JVM (scripts/test-kotlin). Never run, never shipped.
package android.content

abstract class Context {
    abstract val noBackupFilesDir: java.io.File
    fun <T> getSystemService(serviceClass: Class<T>): T = throw UnsupportedOperationException("stub")
}
