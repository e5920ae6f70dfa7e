package jp.fieldvault.sample

import androidx.compose.foundation.layout.Row
import androidx.compose.material3.Checkbox
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import jp.fieldvault.FieldVault
import jp.fieldvault.ffi.Consent
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.FilingRoute
import kotlinx.coroutines.launch

/** 確定申告の手伝い: the taxpayer, consent, income and the My Number (stored apart, never synced). */
@Composable
fun TaxHelpScreen(vault: FieldVault) {
    val scope = rememberCoroutineScope()
    var name by remember { mutableStateOf("") }
    var kana by remember { mutableStateOf("") }
    var address by remember { mutableStateOf("") }
    var income by remember { mutableStateOf("") }
    var myNumber by remember { mutableStateOf("") }
    var consent by remember { mutableStateOf(false) }
    // True while a save runs: a second tap then does nothing instead of inserting a duplicate.
    var saving by remember { mutableStateOf(false) }
    var errors by remember { mutableStateOf(emptyList<FieldError>()) }
    var status by remember { mutableStateOf<String?>(null) }

    FormColumn("確定申告の手伝い", errors, status, saving, onSave = {
        // Checked here too: two taps can arrive before the disabled button is recomposed.
        if (saving) return@FormColumn
        try {
            val base = vault.newTaxAssist(SampleApplication.MUNICIPALITY, taxYear = 2025)
            val form = base.copy(
                venue = "北区民センター",
                staff = listOf(vault.staffId),
                consent = Consent(consent, if (consent) nowTimestamp() else null, "口頭で説明"),
                filingRoute = FilingRoute.E_TAX_MY_NUMBER_CARD,
                taxpayer = base.taxpayer.copy(name = name, nameKana = kana, address = address),
                totalIncomeYen = income.toULongOrNull(),
            )
            errors = vault.validate(form)
            if (errors.isNotEmpty()) return@FormColumn
            val number = myNumber
            saving = true
            scope.launch {
                try {
                    status = statusOf {
                        val id = vault.insert(form)
                        val masked = if (number.isNotBlank()) vault.setMyNumber(id, number) else null
                        myNumber = ""
                        "保存しました" + (masked?.let { " (個人番号 $it)" } ?: "")
                    }
                } finally {
                    saving = false
                }
            }
        } catch (e: FieldVaultException) {
            status = describe(e) // e.g. a malformed value: shown, not a crash
        }
    }) {
        Field("氏名", name) { name = it }
        Field("フリガナ", kana) { kana = it }
        Field("住所", address) { address = it }
        Field("合計所得 (円)", income, numeric = true) { income = it.filter(Char::isDigit) }
        Field("個人番号 (12桁)", myNumber, numeric = true) { myNumber = it.filter(Char::isDigit).take(12) }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(consent, onCheckedChange = { consent = it })
            Text("説明のうえ同意を得た")
        }
    }
}
