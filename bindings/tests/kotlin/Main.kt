// Runs every JUnit 5 test of this package and prints one closing line,
// `N passed, N failed`; exits non-zero on any failure or when no test ran.
package jp.fieldvault.tests

import kotlin.system.exitProcess
import java.nio.file.Paths
import org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots
import org.junit.platform.engine.discovery.PackageNameFilter.includePackageNames
import org.junit.platform.launcher.TestExecutionListener
import org.junit.platform.launcher.TestIdentifier
import org.junit.platform.engine.TestExecutionResult
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder
import org.junit.platform.launcher.core.LauncherFactory
import org.junit.platform.launcher.listeners.SummaryGeneratingListener

fun main() {
    // kotlinc writes jars without directory entries, which package selectors
    // cannot see; scanning the suite's own jar as a classpath root can.
    val suiteJar = Paths.get(Dirs::class.java.protectionDomain.codeSource.location.toURI())
    val request = LauncherDiscoveryRequestBuilder.request()
        .selectors(selectClasspathRoots(setOf(suiteJar)))
        .filters(includePackageNames("jp.fieldvault.tests"))
        .build()
    val summary = SummaryGeneratingListener()
    val progress = object : TestExecutionListener {
        override fun executionFinished(id: TestIdentifier, result: TestExecutionResult) {
            if (id.isTest) println("${result.status.name.padEnd(10)} ${id.displayName}")
        }
    }
    LauncherFactory.create().execute(request, summary, progress)
    val s = summary.summary
    s.failures.forEach { f ->
        println("\nFAILED ${f.testIdentifier.displayName}")
        f.exception.printStackTrace(System.out)
    }
    Dirs.deleteAll()
    val passed = s.testsSucceededCount
    val failed = s.testsFailedCount + s.testsAbortedCount
    println("\n$passed passed, $failed failed")
    exitProcess(if (failed == 0L && passed > 0L && s.testsFoundCount > 0L) 0 else 1)
}
