package jp.fieldvault.sample

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Edit
import androidx.compose.material.icons.filled.Home
import androidx.compose.material.icons.filled.Warning
import jp.fieldvault.ConnectivityMonitor
import jp.fieldvault.FieldVault
import jp.fieldvault.Sync
import jp.fieldvault.SyncWorker
import jp.fieldvault.ffi.SyncPhase
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withContext

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as SampleApplication
        // A fresh launch: no screen can still refer to a camera file of an earlier process.
        if (savedInstanceState == null) clearCameraFiles(this)
        setContent {
            MaterialTheme {
                var vault by remember { mutableStateOf<FieldVault?>(null) }
                var error by remember { mutableStateOf<String?>(null) }
                // Set once a revocation wiped the vault: no vault is held until the user sets up again.
                var revoked by rememberSaveable { mutableStateOf(false) }
                LaunchedEffect(revoked) {
                    if (revoked) return@LaunchedEffect
                    runCatching { app.fieldVault() }
                        .onSuccess { vault = it }
                        .onFailure { error = it.message }
                }
                when {
                    revoked -> RevokedScreen(onSetUp = {
                        SyncWorker.schedule(app)
                        error = null
                        revoked = false
                    })
                    vault != null -> SampleScreens(vault!!, onRevoked = { wiped ->
                        vault = null
                        revoked = true
                        app.forgetVault(wiped)
                    })
                    error != null -> Text("金庫を開けません: $error", Modifier.padding(24.dp))
                    else -> CircularProgressIndicator(Modifier.padding(24.dp))
                }
            }
        }
    }
}

private enum class Tab(val label: String) { Tax("確定申告"), Bear("クマ出没"), Damage("被害報告") }

/** After a revocation: the vault is gone; setting up again creates a new, unenrolled one. */
@Composable
private fun RevokedScreen(onSetUp: () -> Unit) {
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("この端末は無効化され、データは消去されました")
        Button(onClick = onSetUp) { Text("もう一度設定する") }
    }
}

@Composable
private fun SampleScreens(vault: FieldVault, onRevoked: (FieldVault) -> Unit) {
    var tab by rememberSaveable { mutableStateOf(Tab.Tax) }
    val context = androidx.compose.ui.platform.LocalContext.current
    // Sync runs while the app is visible; WorkManager covers the rest. vault.sync() reads the
    // enrolment from the vault (a sealed read): on the IO dispatcher, not the main thread.
    val sync by produceState<Sync?>(null, vault) {
        value = withContext(Dispatchers.IO) { runCatching { vault.sync() }.getOrNull() }
    }
    // Whichever pass learns of a revocation (the loop, 今すぐ同期, SyncWorker: all use this Sync) fails
    // with Revoked after wiping the vault and leaves the engine in the REVOKED phase: from then on
    // the vault must not be used.
    LaunchedEffect(sync) {
        val current = sync ?: return@LaunchedEffect
        current.state.first { it.phase == SyncPhase.REVOKED }
        onRevoked(vault)
    }
    DisposableEffect(sync) {
        val monitor = sync?.let { ConnectivityMonitor(context, it).also { _ -> it.start() } }
        onDispose { monitor?.close() }
    }
    Scaffold(
        topBar = { SyncStatusBar(sync) },
        bottomBar = {
            NavigationBar {
                Tab.entries.forEach { t ->
                    NavigationBarItem(
                        selected = tab == t,
                        onClick = { tab = t },
                        icon = {
                            Icon(
                                when (t) { Tab.Tax -> Icons.Filled.Edit; Tab.Bear -> Icons.Filled.Warning; Tab.Damage -> Icons.Filled.Home },
                                contentDescription = null,
                            )
                        },
                        label = { Text(t.label) },
                    )
                }
            }
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            when (tab) {
                Tab.Tax -> TaxHelpScreen(vault)
                Tab.Bear -> BearSightingScreen(vault)
                Tab.Damage -> DamageReportScreen(vault)
            }
        }
    }
}
