package jp.fieldvault.sample

import android.app.Activity
import android.content.Context
import android.content.ContextWrapper
import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.FileProvider
import java.io.File
import jp.fieldvault.FieldVault
import jp.fieldvault.ffi.BearSighting
import jp.fieldvault.ffi.Count
import jp.fieldvault.ffi.DocumentId
import jp.fieldvault.ffi.FieldError
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.ObservedTime
import jp.fieldvault.ffi.Species
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * クマ出没情報 with a camera photo: the library strips EXIF, keeps the position in the sealed document.
 *
 * The camera writes an unencrypted JPEG (with EXIF/GPS) into the app's cache. That file lives only
 * until it is sealed in the vault: it is deleted after a successful ingest (never before, so a failed
 * ingest loses nothing), when a retake replaces it, when the camera is cancelled, and when the screen
 * is left ([DisposableEffect]); [clearCameraFiles] removes leftovers of a killed process on a fresh launch.
 */
@Composable
fun BearSightingScreen(vault: FieldVault) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var place by remember { mutableStateOf("") }
    var behaviour by remember { mutableStateOf("") }
    var count by remember { mutableStateOf("") }
    // Paths survive an activity recreation (the camera app often rotates the screen).
    // The photo taken and not yet sealed in the vault.
    var photoPath by rememberSaveable { mutableStateOf<String?>(null) }
    // The file handed to the camera, until it reports back.
    var pendingPath by rememberSaveable { mutableStateOf<String?>(null) }
    // A sighting already saved whose photo could not be attached yet: Save retries the photo only.
    var unattachedId by rememberSaveable { mutableStateOf<DocumentId?>(null) }
    var saving by remember { mutableStateOf(false) }
    var errors by remember { mutableStateOf(emptyList<FieldError>()) }
    var status by remember { mutableStateOf<String?>(null) }

    val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { ok ->
        val taken = pendingPath
        pendingPath = null
        if (ok && taken != null) {
            // A retake replaces the previous photo: its raw file goes now.
            photoPath?.takeIf { it != taken }?.let { File(it).delete() }
            photoPath = taken
        } else {
            // Cancelled: the camera may have left a partial file; the previous photo stays.
            taken?.let { File(it).delete() }
        }
    }
    fun newPhotoUri(): Uri {
        pendingPath?.let { File(it).delete() }
        val file = File(cameraDir(context), "sighting-${System.currentTimeMillis()}.jpg").apply { parentFile?.mkdirs() }
        pendingPath = file.path
        return FileProvider.getUriForFile(context, "jp.fieldvault.sample.photos", file)
    }

    // Leaving the screen abandons the photo: delete the raw files (not on a mere configuration
    // change, which recreates the activity and restores the paths above).
    DisposableEffect(Unit) {
        onDispose {
            if (context.findActivity()?.isChangingConfigurations != true) {
                photoPath?.let { File(it).delete() }
                pendingPath?.let { File(it).delete() }
            }
        }
    }

    FormColumn("クマ出没情報", errors, status, saving, onSave = {
        if (saving) return@FormColumn
        try {
            val sighting = vault.newBearSighting(SampleApplication.MUNICIPALITY).copy(
                species = Species.BrownBear,
                observedAt = ObservedTime.At(nowTimestamp()),
                placeDescription = place,
                behaviour = behaviour,
                count = count.toUIntOrNull()?.let { Count.Known(it) } ?: Count.Unknown,
            )
            if (unattachedId == null) {
                errors = vault.validate(sighting)
                if (errors.isNotEmpty()) return@FormColumn
            }
            saving = true
            scope.launch {
                try {
                    status = saveSighting(vault, sighting, unattachedId, photoPath?.let(::File)) { id -> unattachedId = id }
                    // Only a sealed photo's file is gone; on failure the path stays for a retry.
                    photoPath = photoPath?.takeIf { File(it).exists() }
                } finally {
                    saving = false
                }
            }
        } catch (e: FieldVaultException) {
            status = describe(e) // e.g. a malformed value: shown, not a crash
        }
    }) {
        Field("場所", place) { place = it }
        Field("行動", behaviour) { behaviour = it }
        Field("頭数", count, numeric = true) { count = it.filter(Char::isDigit) }
        OutlinedButton(onClick = { camera.launch(newPhotoUri()) }, enabled = !saving) {
            Text(if (photoPath != null) "写真を撮り直す" else "写真を撮る")
        }
    }
}

/**
 * Stores [sighting] (unless [savedId] says it already is) and seals [photo] into it, then deletes the
 * raw file. [onUnattached] is told the id while the document is stored but its photo is not (null
 * once nothing is outstanding), so a second Save attaches the photo instead of storing a duplicate.
 */
private suspend fun saveSighting(
    vault: FieldVault,
    sighting: BearSighting,
    savedId: DocumentId?,
    photo: File?,
    onUnattached: (DocumentId?) -> Unit,
): String {
    val id = savedId ?: try {
        vault.insert(sighting)
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        return describe(e)
    }
    if (photo == null) {
        onUnattached(null)
        return "保存しました"
    }
    onUnattached(id)
    return try {
        val bytes = withContext(Dispatchers.IO) { photo.readBytes() }
        val ref = vault.ingestPhoto(id, bytes)
        // Sealed in the vault (metadata stripped): now the raw camera file can go.
        withContext(Dispatchers.IO) { photo.delete() }
        onUnattached(null)
        "保存しました(写真 ${ref.width}×${ref.height}${if (ref.position != null) "、位置あり" else ""})"
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        "報告は保存しました。写真はまだ添付されていません: ${describe(e)}(「保存」で写真を再試行)"
    }
}

/** Where the camera writes (see res/xml/photo_paths.xml). */
private fun cameraDir(context: Context) = File(context.cacheDir, "camera")

/**
 * Deletes raw camera files left by a process that was killed before it could seal or delete them.
 * Call on a fresh launch only (no saved state): a restored screen may still refer to its photo.
 */
fun clearCameraFiles(context: Context) {
    cameraDir(context).listFiles()?.forEach { it.delete() }
}

private tailrec fun Context.findActivity(): Activity? = when (this) {
    is Activity -> this
    is ContextWrapper -> baseContext.findActivity()
    else -> null
}
