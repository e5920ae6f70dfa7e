package jp.fieldvault.sample

import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import java.util.UUID
import jp.fieldvault.FieldVault
import jp.fieldvault.ffi.ConfirmableCount
import jp.fieldvault.ffi.Count
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.HouseDamageLevel
import jp.fieldvault.ffi.HouseSurvey
import jp.fieldvault.ffi.SiteRecord
import jp.fieldvault.ffi.SiteTarget
import kotlinx.coroutines.launch

/** 被害報告 (第4号様式): figures may be unknown (不明), never a silent zero. */
@Composable
fun DamageReportScreen(vault: FieldVault) {
    val scope = rememberCoroutineScope()
    var disaster by remember { mutableStateOf("") }
    var reportNumber by remember { mutableStateOf("1") }
    var dead by remember { mutableStateOf("") }
    var missing by remember { mutableStateOf("") }
    var address by remember { mutableStateOf("") }
    var floodCm by remember { mutableStateOf("") }
    // True while a save runs: a second tap then does nothing instead of inserting a duplicate.
    var saving by remember { mutableStateOf(false) }
    var errors by remember { mutableStateOf(emptyList<FieldError>()) }
    var status by remember { mutableStateOf<String?>(null) }

    fun count(text: String) = ConfirmableCount(text.toUIntOrNull()?.let { Count.Known(it) } ?: Count.Unknown, unconfirmed = true)

    FormColumn("被害報告", errors, status, saving, onSave = {
        // Checked here too: two taps can arrive before the disabled button is recomposed.
        if (saving) return@FormColumn
        try {
            val base = vault.newDamageReport(SampleApplication.MUNICIPALITY, disaster, reportNumber.toIntOrNull() ?: 1, nowTimestamp())
            val sites = if (address.isBlank()) emptyList() else listOf(
                SiteRecord(
                    id = UUID.randomUUID().toString(),
                    targetType = SiteTarget.HOUSE,
                    address = address,
                    position = null,
                    passable = null,
                    photoIds = emptyList(),
                    houseSurvey = HouseSurvey(
                        if (floodCm.isNotBlank()) HouseDamageLevel.FLOODED_ABOVE_FLOOR else HouseDamageLevel.PARTIAL,
                        floodCm.toUIntOrNull(),
                        "",
                    ),
                    notes = "",
                ),
            )
            val report = base.copy(
                summary = base.summary.copy(casualties = base.summary.casualties.copy(dead = count(dead), missing = count(missing))),
                sites = sites,
            )
            errors = vault.validate(report)
            if (errors.isNotEmpty()) return@FormColumn
            saving = true
            scope.launch {
                try {
                    status = statusOf {
                        vault.insert(report)
                        "保存しました"
                    }
                } finally {
                    saving = false
                }
            }
        } catch (e: FieldVaultException) {
            status = describe(e) // e.g. a malformed value: shown, not a crash
        }
    }) {
        Field("災害名", disaster) { disaster = it }
        Field("第何報", reportNumber, numeric = true) { reportNumber = it.filter(Char::isDigit) }
        Field("死者 (空欄=不明)", dead, numeric = true) { dead = it.filter(Char::isDigit) }
        Field("行方不明者 (空欄=不明)", missing, numeric = true) { missing = it.filter(Char::isDigit) }
        Field("被害住家の所在地", address) { address = it }
        Field("浸水深 (cm)", floodCm, numeric = true) { floodCm = it.filter(Char::isDigit) }
    }
}
