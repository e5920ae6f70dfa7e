package jp.fieldvault.sample

import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.unit.dp
import java.text.DateFormat
import java.util.Date
import jp.fieldvault.Sync
import jp.fieldvault.ffi.SyncPhase
import kotlinx.coroutines.launch

/** One line at the top: what sync is doing, what is pending, when it last succeeded. */
@Composable
fun SyncStatusBar(sync: Sync?) {
    if (sync == null) {
        Bar(Color(0xFFE0E0E0), "未登録の端末です(同期なし)")
        return
    }
    val state by sync.state.collectAsState()
    val progress by sync.progress.collectAsState()
    val scope = rememberCoroutineScope()
    val (color, text) = when (state.phase) {
        SyncPhase.IDLE -> Color(0xFFC8E6C9) to (state.lastSuccessMs?.let { "同期済み " + DateFormat.getTimeInstance(DateFormat.SHORT).format(Date(it)) } ?: "未同期")
        SyncPhase.PUSHING -> Color(0xFFBBDEFB) to "送信中 (${progress.pendingChanges} 件)"
        SyncPhase.PULLING -> Color(0xFFBBDEFB) to "受信中"
        SyncPhase.BACKOFF -> Color(0xFFFFE0B2) to "再試行待ち: ${state.lastError ?: ""}"
        SyncPhase.OFFLINE -> Color(0xFFE0E0E0) to "オフライン (未送信 ${state.pendingChanges} 件)"
        SyncPhase.REVOKED -> Color(0xFFFFCDD2) to "この端末は無効化され、データは消去されました"
    }
    Row(Modifier.fillMaxWidth().background(color).padding(horizontal = 12.dp), verticalAlignment = Alignment.CenterVertically) {
        Text(text, Modifier.weight(1f), style = MaterialTheme.typography.bodySmall)
        if (state.phase != SyncPhase.REVOKED) {
            TextButton(onClick = { scope.launch { runCatching { sync.syncNow() } } }) { Text("今すぐ同期") }
        }
    }
}

@Composable
private fun Bar(color: Color, text: String) {
    Text(text, Modifier.fillMaxWidth().background(color).padding(12.dp), style = MaterialTheme.typography.bodySmall)
}
