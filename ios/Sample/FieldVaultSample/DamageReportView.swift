import SwiftUI
import FieldVault
import FieldVaultFFI

/// 被害報告 (第4号様式): figures may be unknown (不明), never a silent zero.
struct DamageReportView: View {
    let vault: FieldVault
    @State private var disaster = ""
    @State private var reportNumber = "1"
    @State private var dead = ""
    @State private var missing = ""
    @State private var address = ""
    @State private var floodCm = ""
    @State private var errors: [FieldError] = []
    @State private var status: String?
    @State private var saving = false // a save in flight: a second tap must not insert a duplicate

    var body: some View {
        Form {
            Section("概況") {
                TextField("災害名", text: $disaster)
                TextField("第何報", text: $reportNumber).keyboardType(.numberPad)
                TextField("死者 (空欄=不明)", text: $dead).keyboardType(.numberPad)
                TextField("行方不明者 (空欄=不明)", text: $missing).keyboardType(.numberPad)
            }
            Section("住家被害") {
                TextField("所在地", text: $address)
                TextField("浸水深 (cm)", text: $floodCm).keyboardType(.numberPad)
            }
            ForEach(errors, id: \.field) { Text("\($0.field): \($0.message)").foregroundStyle(.red) }
            Button("保存", action: save).disabled(saving)
            if let status { Text(status) }
        }
    }

    private func count(_ text: String) -> ConfirmableCount {
        ConfirmableCount(count: UInt32(text).map { .known($0) } ?? .unknown, unconfirmed: true)
    }

    private func save() {
        guard !saving else { return } // two taps can land before the button is disabled
        do {
            var report = try vault.newDamageReport(municipalityCode: AppModel.municipality, disasterName: disaster,
                                                   reportNumber: UInt32(reportNumber) ?? 1)
            report.summary.casualties.dead = count(dead)
            report.summary.casualties.missing = count(missing)
            if !address.isEmpty {
                let flood = UInt32(floodCm)
                report.sites = [SiteRecord(
                    id: UUID().uuidString.lowercased(), targetType: .house, address: address, position: nil,
                    passable: nil, photoIds: [],
                    houseSurvey: HouseSurvey(damageLevel: flood != nil ? .floodedAboveFloor : .partial, floodDepthCm: flood, notes: ""),
                    notes: "")]
            }
            errors = try vault.validate(report)
            guard errors.isEmpty else { return }
            saving = true
            Task {
                defer { saving = false }
                do { try await vault.insert(report); status = "保存しました" } catch { status = describe(error) }
            }
        } catch {
            status = describe(error)
        }
    }
}
