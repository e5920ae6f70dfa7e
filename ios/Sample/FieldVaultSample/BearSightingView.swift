import SwiftUI
import UIKit
import FieldVault
import FieldVaultFFI

/// クマ出没情報 with a camera photo (HEIC is converted to JPEG by the library's Swift layer).
struct BearSightingView: View {
    let vault: FieldVault
    @State private var place = ""
    @State private var behaviour = ""
    @State private var count = ""
    @State private var photo: Data?
    @State private var showCamera = false
    @State private var errors: [FieldError] = []
    @State private var status: String?
    @State private var saving = false // a save in flight: a second tap must not insert a duplicate

    var body: some View {
        Form {
            Section("出没情報") {
                TextField("場所", text: $place)
                TextField("行動", text: $behaviour)
                TextField("頭数", text: $count).keyboardType(.numberPad)
                Button(photo == nil ? "写真を撮る" : "写真を撮り直す") { showCamera = true }
                    .disabled(!UIImagePickerController.isSourceTypeAvailable(.camera))
            }
            ForEach(errors, id: \.field) { Text("\($0.field): \($0.message)").foregroundStyle(.red) }
            Button("保存", action: save).disabled(saving)
            if let status { Text(status) }
        }
        .sheet(isPresented: $showCamera) { CameraPicker(photo: $photo) }
    }

    private func save() {
        guard !saving else { return } // two taps can land before the button is disabled
        var sighting = vault.newBearSighting(municipalityCode: AppModel.municipality)
        sighting.species = .brownBear
        sighting.observedAt = .at(rfc3339Now())
        sighting.placeDescription = place
        sighting.behaviour = behaviour
        sighting.count = UInt32(count).map { .known($0) } ?? .unknown
        errors = (try? vault.validate(sighting)) ?? []
        guard errors.isEmpty else { return }
        let image = photo
        saving = true
        Task {
            defer { saving = false }
            do {
                let id = try await vault.insert(sighting)
                if let image {
                    let ref = try await vault.ingestPhoto(id, image: image)
                    photo = nil
                    status = "保存しました(写真 \(ref.width)×\(ref.height)\(ref.position != nil ? "、位置あり" : ""))"
                } else {
                    status = "保存しました"
                }
            } catch {
                status = describe(error)
            }
        }
    }
}

/// The system camera; returns the original encoded photo (HEIC or JPEG) with its metadata.
struct CameraPicker: UIViewControllerRepresentable {
    @Binding var photo: Data?
    @Environment(\.dismiss) private var dismiss

    func makeUIViewController(context: Context) -> UIImagePickerController {
        let picker = UIImagePickerController()
        picker.sourceType = .camera
        picker.delegate = context.coordinator
        return picker
    }

    func updateUIViewController(_ controller: UIImagePickerController, context: Context) {}

    func makeCoordinator() -> Coordinator { Coordinator(self) }

    final class Coordinator: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
        let parent: CameraPicker
        init(_ parent: CameraPicker) { self.parent = parent }

        func imagePickerController(_ picker: UIImagePickerController, didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
            if let image = info[.originalImage] as? UIImage {
                // UIImage loses EXIF; keep the metadata dictionary by re-encoding with ImageIO would need
                // PHPicker's file URL. The camera's JPEG is enough for the sample.
                parent.photo = image.jpegData(compressionQuality: 0.92)
            }
            parent.dismiss()
        }
    }
}
