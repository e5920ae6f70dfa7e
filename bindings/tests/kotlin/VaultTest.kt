package jp.fieldvault.tests

import java.io.File
import jp.fieldvault.ffi.AnyDocument
import jp.fieldvault.ffi.BearGroup
import jp.fieldvault.ffi.ConfirmableCount
import jp.fieldvault.ffi.Count
import jp.fieldvault.ffi.DocumentKind
import jp.fieldvault.ffi.FieldErrorCode
import jp.fieldvault.ffi.FieldVault
import jp.fieldvault.ffi.FieldVaultException
import jp.fieldvault.ffi.HouseDamageLevel
import jp.fieldvault.ffi.HouseSurvey
import jp.fieldvault.ffi.ListFilter
import jp.fieldvault.ffi.MedicalCategory
import jp.fieldvault.ffi.MedicalExpense
import jp.fieldvault.ffi.ObservedTime
import jp.fieldvault.ffi.ReportKind
import jp.fieldvault.ffi.SiteRecord
import jp.fieldvault.ffi.SiteTarget
import jp.fieldvault.ffi.Species
import jp.fieldvault.ffi.Status
import jp.fieldvault.ffi.TraceKind
import jp.fieldvault.ffi.sampleBearSighting
import jp.fieldvault.ffi.sampleDamageReport
import jp.fieldvault.ffi.sampleTaxAssist
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

@Timeout(120)
class VaultTest {
    @Test
    fun `a vault opens again only with its Kotlin key provider`() {
        val keys = AesGcmKeyProvider()
        val (vault, dir) = newVault("reopen", keys)
        val id = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        val deviceId = vault.deviceId()
        vault.close()
        assertEquals(1, keys.wraps)

        val reopened = FieldVault.open(dir.path, keys, "staff-0012")
        assertEquals(deviceId, reopened.deviceId())
        assertEquals("staff-0012", reopened.staffId())
        assertEquals(sampleBearSighting(reopened.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)).placeDescription,
            reopened.getBearSighting(id).placeDescription)
        assertTrue(reopened.integrityCheck())
        reopened.close()

        val wrong = assertThrows<FieldVaultException.WrongKey> { FieldVault.open(dir.path, AesGcmKeyProvider(), "x") }
        assertEquals("wrong key or passphrase: the vault could not be unlocked", wrong.message)
    }

    @Test
    fun `exports are recorded in a verifiable audit log`() {
        val (vault, _) = newVault("audit")
        val bears = List(2) {
            vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        }
        vault.recordExports(bears, "pdf")
        val report = vault.auditLog()
        val log = report.records
        assertEquals(listOf("created", "created", "exported", "exported"), log.map { it.action })
        assertEquals(listOf(0UL, 1UL, 2UL, 3UL), log.map { it.seq })
        assertEquals(bears, log.takeLast(2).map { it.documentId })
        assertTrue(log.all { it.staffId == "staff-audit" && it.deviceId == vault.deviceId() })
        assertEquals(listOf("pdf", "pdf"), log.takeLast(2).map { it.detail })
        assertEquals(emptyList<String>(), report.problems)

        // All or nothing: an unknown document fails the whole record.
        assertThrows<FieldVaultException.NotFound> {
            vault.recordExports(bears + "0190b6a0-0000-7000-8000-0000000000ff", "pdf")
        }
        assertEquals(4, vault.auditLog().records.size)
        vault.close()
    }

    @Test
    fun `nothing in the vault files is plaintext`() {
        val (vault, dir) = newVault("plaintext")
        val canary = "カナリア-${System.nanoTime()}"
        val doc = sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY))
        vault.insertTaxAssist(doc.copy(venue = canary, taxpayer = doc.taxpayer.copy(name = canary)))
        vault.checkpoint()
        val needle = canary.toByteArray(Charsets.UTF_8)
        dir.walk().filter { it.isFile }.forEach { f ->
            val bytes = f.readBytes()
            val found = (0..bytes.size - needle.size).any { i -> needle.indices.all { bytes[i + it] == needle[it] } }
            assertFalse(found, "plaintext in ${f.name}")
        }
        vault.close()
    }

    @Test
    fun `tax assist round trip, edit, history, My Number`() {
        val (vault, _) = newVault("tax")
        val empty = vault.newTaxAssist(MUNICIPALITY, 2025.toUShort())
        assertEquals(DocumentKind.TAX_ASSIST, empty.envelope.kind)
        assertEquals(Status.DRAFT, empty.envelope.status)
        val doc = sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY))
        val id = vault.insertTaxAssist(doc)
        val stored = vault.getTaxAssist(id)
        assertEquals(doc.taxpayer, stored.taxpayer)
        assertEquals(doc.medicalExpenses, stored.medicalExpenses)
        assertEquals(doc.notes, stored.notes)
        assertEquals("staff-tax", stored.envelope.authorStaffId)

        val expense = MedicalExpense("0190b6a0-0000-7000-8000-0000000000aa", "山田 花子", "札幌北病院",
            MedicalCategory.TREATMENT, 42_000uL, 0uL, "2025-10-01")
        vault.putTaxAssist(stored.copy(medicalExpenses = stored.medicalExpenses + expense, notes = stored.notes + " 追記"))
        val edited = vault.getTaxAssist(id)
        assertEquals(stored.medicalExpenses.size + 1, edited.medicalExpenses.size)
        assertTrue(edited.notes.endsWith("追記"))
        val history = vault.history(id)
        assertEquals(listOf("create", "edit"), history.map { it.operation })
        assertTrue(history.last().fields.any { it.startsWith("medical_expenses") }, history.last().fields.toString())

        val masked = vault.setMyNumber(id, "123456789018")
        assertTrue(masked.endsWith("9018"), masked)
        assertFalse(masked.contains("12345678"))
        assertEquals(masked, vault.myNumberMasked(id))
        assertEquals("123456789018", vault.revealMyNumber(id))
        assertTrue(vault.getTaxAssist(id).hasMyNumber)
        assertTrue(vault.forgetMyNumber(id))
        assertNull(vault.myNumberMasked(id))
        vault.close()
    }

    @Test
    fun `bear sighting with enums carrying data`() {
        val (vault, _) = newVault("bear")
        val doc = vault.newBearSighting(MUNICIPALITY).copy(
            reportKind = ReportKind.Trace(TraceKind.FOOTPRINT),
            species = Species.Other("不明な大型獣"),
            observedAt = ObservedTime.At("2025-06-01T05:30:00+09:00"),
            placeDescription = "藻岩山 登山道 2合目",
            count = Count.Known(2u),
            adults = Count.Known(1u),
            cubs = Count.Unknown,
            group = BearGroup.MOTHER_WITH_CUBS,
            distanceM = 40u,
            narrative = "足跡を確認",
        )
        val id = vault.insertBearSighting(doc)
        val back = vault.getBearSighting(id)
        assertEquals(ReportKind.Trace(TraceKind.FOOTPRINT), back.reportKind)
        assertEquals(Species.Other("不明な大型獣"), back.species)
        assertEquals(ObservedTime.At("2025-06-01T05:30:00+09:00"), back.observedAt)
        assertEquals(Count.Unknown, back.cubs)
        assertEquals(40u, back.distanceM)
        val any = vault.getAny(id)
        assertTrue(any is AnyDocument.BearSighting)
        assertEquals(back, (any as AnyDocument.BearSighting).v1)
        vault.close()
    }

    @Test
    fun `damage report with sites and confirmable counts`() {
        val (vault, _) = newVault("damage")
        val base = vault.newDamageReport(MUNICIPALITY, "令和7年台風第10号", 3u, "2025-09-01T12:00:00+09:00")
        val site = SiteRecord("0190b6a0-0000-7000-8000-0000000000bb", SiteTarget.HOUSE, "北区北24条西5丁目",
            null, false, emptyList(), HouseSurvey(HouseDamageLevel.FLOODED_ABOVE_FLOOR, 80u, "床上浸水"), "")
        val doc = base.copy(
            summary = base.summary.copy(
                casualties = base.summary.casualties.copy(
                    dead = ConfirmableCount(Count.Known(0u), false),
                    missing = ConfirmableCount(Count.Known(1u), true),
                ),
            ),
            sites = listOf(site),
        )
        val id = vault.insertDamageReport(doc)
        val back = vault.getDamageReport(id)
        assertEquals(doc.summary, back.summary)
        assertEquals(listOf(site), back.sites)
        assertEquals(ConfirmableCount(Count.Unknown, false), back.summary.casualties.severelyInjured)

        val sample = sampleDamageReport(vault.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY))
        vault.insertDamageReport(sample)
        vault.close()
    }

    @Test
    fun `list filters, status, delete, merge between replicas`() {
        val (vault, _) = newVault("list")
        val tax = vault.insertTaxAssist(sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY)))
        val bear = vault.insertBearSighting(sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, MUNICIPALITY)))
        val damage = vault.insertDamageReport(sampleDamageReport(vault.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY)))
        val all = vault.list(ListFilter(null, null, null, null))
        assertEquals(setOf(tax, bear, damage), all.documents.map { it.id }.toSet())
        assertEquals(0uL, all.unreadable)
        assertEquals(listOf(bear), vault.list(ListFilter(DocumentKind.BEAR_SIGHTING, null, null, null)).documents.map { it.id })

        vault.setStatus(bear, Status.READY)
        assertEquals(Status.READY, vault.summary(bear).status)
        assertEquals(listOf(bear), vault.list(ListFilter(null, Status.READY, null, null)).documents.map { it.id })

        val (other, _) = newVault("list-replica")
        assertEquals(bear, other.mergeChanges(vault.exportChanges(bear)))
        assertEquals(vault.getBearSighting(bear), other.getBearSighting(bear))
        assertNotEquals(vault.deviceId(), other.deviceId())

        vault.delete(bear)
        val gone = assertThrows<FieldVaultException.NotFound> { vault.getBearSighting(bear) }
        assertEquals("document $bear was not found", gone.message)
        assertEquals(2, vault.list(ListFilter(null, null, null, null)).documents.size)
        vault.close()
        other.close()
    }

    @Test
    fun `validation reports field paths and codes, never values`() {
        val (vault, _) = newVault("validation")
        val doc = sampleBearSighting(vault.newEnvelope(DocumentKind.BEAR_SIGHTING, "011003"))
        val errors = vault.validateBearSighting(doc)
        assertTrue(errors.any { it.field == "envelope.municipality_code" && it.code == FieldErrorCode.BAD_CHECK_DIGIT }, errors.toString())
        val e = assertThrows<FieldVaultException.Validation> { vault.insertBearSighting(doc) }
        assertTrue(e.message!!.startsWith("invalid document: "), e.message)
        assertTrue(e.message!!.contains("envelope.municipality_code"), e.message)
        assertFalse(e.message!!.contains("011003"), "the message must not contain the value")
        assertTrue(vault.validateTaxAssist(sampleTaxAssist(vault.newEnvelope(DocumentKind.TAX_ASSIST, MUNICIPALITY))).isEmpty())
        assertTrue(vault.validateDamageReport(sampleDamageReport(vault.newEnvelope(DocumentKind.DAMAGE_REPORT, MUNICIPALITY))).isEmpty())
        vault.close()
    }
}

fun File.isEmptyDir(): Boolean = !exists() || (isDirectory && (list()?.isEmpty() ?: true))
