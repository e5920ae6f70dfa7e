package jp.fieldvault.sample

import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.FileProvider
import java.io.File
import jp.fieldvault.FieldVault
import jp.fieldvault.ffi.Count
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.ObservedTime
import jp.fieldvault.ffi.Species
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** クマ出没情報 with a camera photo: the library strips EXIF, keeps the position in the sealed document. */
@Composable
fun BearSightingScreen(vault: FieldVault) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var place by remember { mutableStateOf("") }
    var behaviour by remember { mutableStateOf("") }
    var count by remember { mutableStateOf("") }
    var photoFile by remember { mutableStateOf<File?>(null) }
    var photoTaken by remember { mutableStateOf(false) }
    var errors by remember { mutableStateOf(emptyList<FieldError>()) }
    var status by remember { mutableStateOf<String?>(null) }

    val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { ok -> photoTaken = ok }
    fun newPhotoUri(): Uri {
        val file = File(context.cacheDir, "camera/sighting-${System.currentTimeMillis()}.jpg").apply { parentFile?.mkdirs() }
        photoFile = file
        return FileProvider.getUriForFile(context, "jp.fieldvault.sample.photos", file)
    }

    FormColumn("クマ出没情報", errors, status, onSave = {
        val sighting = vault.newBearSighting(SampleApplication.MUNICIPALITY).copy(
            species = Species.BrownBear,
            observedAt = ObservedTime.At(nowTimestamp()),
            placeDescription = place,
            behaviour = behaviour,
            count = count.toUIntOrNull()?.let { Count.Known(it) } ?: Count.Unknown,
        )
        errors = vault.validate(sighting)
        if (errors.isNotEmpty()) return@FormColumn
        scope.launch {
            status = try {
                val id = vault.insert(sighting)
                val file = photoFile
                if (photoTaken && file != null) {
                    val bytes = withContext(Dispatchers.IO) { file.readBytes().also { file.delete() } }
                    val photo = vault.ingestPhoto(id, bytes)
                    photoTaken = false
                    "保存しました(写真 ${photo.width}×${photo.height}${if (photo.position != null) "、位置あり" else ""})"
                } else {
                    "保存しました"
                }
            } catch (e: Exception) {
                describe(e)
            }
        }
    }) {
        Field("場所", place) { place = it }
        Field("行動", behaviour) { behaviour = it }
        Field("頭数", count, numeric = true) { count = it.filter(Char::isDigit) }
        OutlinedButton(onClick = { camera.launch(newPhotoUri()) }) {
            Text(if (photoTaken) "写真を撮り直す" else "写真を撮る")
        }
    }
}
