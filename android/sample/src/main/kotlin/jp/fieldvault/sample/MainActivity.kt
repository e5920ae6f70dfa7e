package jp.fieldvault.sample

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
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
                LaunchedEffect(Unit) {
                    runCatching { app.fieldVault() }
                        .onSuccess { vault = it }
                        .onFailure { error = it.message }
                }
                when {
                    vault != null -> SampleScreens(vault!!)
                    error != null -> Text("金庫を開けません: $error", Modifier.padding(24.dp))
                    else -> CircularProgressIndicator(Modifier.padding(24.dp))
                }
            }
        }
    }
}

private enum class Tab(val label: String) { Tax("確定申告"), Bear("クマ出没"), Damage("被害報告") }

@Composable
private fun SampleScreens(vault: FieldVault) {
    var tab by rememberSaveable { mutableStateOf(Tab.Tax) }
    val context = androidx.compose.ui.platform.LocalContext.current
    // Sync runs while the app is visible; WorkManager covers the rest.
    val sync = remember(vault) { runCatching { vault.sync() }.getOrNull() }
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
