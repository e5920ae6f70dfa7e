package jp.fieldvault.sample

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.ui.unit.dp
import java.io.IOException
import java.time.OffsetDateTime
import java.time.format.DateTimeFormatter
import java.time.temporal.ChronoUnit
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.FieldVaultException
import kotlinx.coroutines.CancellationException

/**
 * A scrolling form column with a title, the fields, field errors and a save button. The button is
 * disabled while [saving] (a save in flight): a second tap would otherwise store a second document.
 */
@Composable
fun FormColumn(
    title: String,
    errors: List<FieldError>,
    status: String?,
    saving: Boolean = false,
    onSave: () -> Unit,
    content: @Composable () -> Unit,
) {
    Column(
        Modifier.verticalScroll(rememberScrollState()).padding(16.dp).fillMaxWidth(),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Text(title, style = MaterialTheme.typography.titleLarge)
        content()
        errors.forEach { Text("${it.field}: ${it.message}", color = MaterialTheme.colorScheme.error) }
        Button(onClick = onSave, enabled = !saving, modifier = Modifier.fillMaxWidth()) { Text("保存") }
        status?.let { Text(it) }
    }
}

@Composable
fun Field(label: String, value: String, numeric: Boolean = false, onChange: (String) -> Unit) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(label) },
        singleLine = true,
        keyboardOptions = if (numeric) KeyboardOptions(keyboardType = KeyboardType.Number) else KeyboardOptions.Default,
        modifier = Modifier.fillMaxWidth(),
    )
}

/**
 * What to show for a failed save: the library's message names the problem, never a value. Never
 * throws (it is called inside `launch`, where a rethrow would crash the app); anything that is not a
 * library error is shown by its class name only.
 */
fun describe(e: Throwable): String = when (e) {
    is FieldVaultException.Validation -> "入力を確認してください"
    is FieldVaultException -> e.message ?: e.javaClass.simpleName
    is IOException -> "ファイルを読めませんでした (${e.javaClass.simpleName})"
    else -> "保存できませんでした (${e.javaClass.simpleName})"
}

/**
 * Runs a save coroutine and returns the status line: its result, or [describe] of what it threw.
 * Cancellation (the screen left composition) is rethrown, not shown.
 */
suspend fun statusOf(block: suspend () -> String): String =
    try {
        block()
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        describe(e)
    }

/**
 * Now as RFC 3339 with the phone's offset, always with seconds ("2025-06-01T10:00:00+09:00").
 * `OffsetDateTime.toString()` drops `:00` seconds ("10:00+09:00"), which RFC 3339 does not allow.
 */
fun nowTimestamp(): String =
    OffsetDateTime.now().truncatedTo(ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)
