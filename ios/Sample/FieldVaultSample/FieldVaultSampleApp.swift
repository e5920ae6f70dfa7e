import SwiftUI
import FieldVault

/// Opens the vault (Keychain / Secure Enclave wrapped) and shows three screens under a sync bar.
@main
struct FieldVaultSampleApp: App {
    @StateObject private var model = AppModel()

    init() {
        OSLogLogger.install()
        BackgroundSync.register { await AppModel.shared?.vault }
        BackgroundSync.schedule()
    }

    var body: some Scene {
        WindowGroup {
            Group {
                if let vault = model.vault {
                    ContentView(vault: vault, sync: model.sync)
                } else if let error = model.error {
                    Text("金庫を開けません: \(error)").padding()
                } else {
                    ProgressView()
                }
            }
            .task { await model.open() }
        }
    }
}

@MainActor
final class AppModel: ObservableObject {
    nonisolated(unsafe) static weak var shared: AppModel?
    static let staffId = "staff-0012"       // the signed-in staff member in a real app
    static let municipality = "011002"      // 札幌市

    @Published var vault: FieldVault?
    @Published var sync: Sync?
    @Published var error: String?
    private var monitor: ConnectivityMonitor?

    init() { AppModel.shared = self }

    func open() async {
        do {
            let vault = try await FieldVault.openOrCreate(staffId: Self.staffId)
            self.vault = vault
            if try vault.syncSettings() != nil {
                let sync = try vault.sync()
                try sync.start()
                monitor = ConnectivityMonitor(sync: sync)
                self.sync = sync
            }
        } catch {
            self.error = error.localizedDescription
        }
    }
}
