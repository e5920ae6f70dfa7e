import SwiftUI
import FieldVault
import FieldVaultFFI

/// 確定申告の手伝い: taxpayer, consent, income; the My Number is stored apart and never synced.
struct TaxHelpView: View {
    let vault: FieldVault
    @State private var name = ""
    @State private var kana = ""
    @State private var address = ""
    @State private var income = ""
    @State private var myNumber = ""
    @State private var consent = false
    @State private var errors: [FieldError] = []
    @State private var status: String?
    @State private var saving = false // a save in flight: a second tap must not insert a duplicate

    var body: some View {
        Form {
            Section("納税者") {
                TextField("氏名", text: $name)
                TextField("フリガナ", text: $kana)
                TextField("住所", text: $address)
                TextField("合計所得 (円)", text: $income).keyboardType(.numberPad)
                SecureField("個人番号 (12桁)", text: $myNumber).keyboardType(.numberPad)
                Toggle("説明のうえ同意を得た", isOn: $consent)
            }
            ForEach(errors, id: \.field) { Text("\($0.field): \($0.message)").foregroundStyle(.red) }
            Button("保存", action: save).disabled(saving)
            if let status { Text(status) }
        }
    }

    private func save() {
        guard !saving else { return } // two taps can land before the button is disabled
        var form = vault.newTaxAssist(municipalityCode: AppModel.municipality, taxYear: 2025)
        form.venue = "北区民センター"
        form.staff = [vault.staffId]
        form.consent = Consent(given: consent, givenAt: consent ? rfc3339Now() : nil, method: "口頭で説明")
        form.filingRoute = .eTaxMyNumberCard
        form.taxpayer.name = name
        form.taxpayer.nameKana = kana
        form.taxpayer.address = address
        form.totalIncomeYen = UInt64(income)
        errors = (try? vault.validate(form)) ?? []
        guard errors.isEmpty else { return }
        let number = myNumber
        saving = true
        Task {
            defer { saving = false }
            do {
                let id = try await vault.insert(form)
                var note = "保存しました"
                if !number.isEmpty { note += " (個人番号 \(try await vault.setMyNumber(id, number)))" }
                myNumber = ""
                status = note
            } catch {
                status = describe(error)
            }
        }
    }
}

func rfc3339Now() -> String {
    let f = ISO8601DateFormatter()
    f.timeZone = .current
    return f.string(from: Date())
}
