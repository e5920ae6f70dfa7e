import SwiftUI
import FieldVault

/// Opens the vault (Keychain / Secure Enclave wrapped) and shows three screens under a sync bar.
@main
struct FieldVaultSampleApp: App {
    @StateObject private var model = AppModel.shared

    init() {
        OSLogLogger.install()
        // A background launch runs this init but no view: the handler opens the vault itself,
        // through the same model, so it never opens a second one beside the UI's.
        BackgroundSync.register { try await AppModel.shared.openVault() }
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
    /// One model per process, shared by the UI and the background task handler.
    static let shared = AppModel()
    static let staffId = "staff-0012"       // the signed-in staff member in a real app
    static let municipality = "011002"      // 札幌市

    @Published private(set) var vault: FieldVault?
    @Published private(set) var sync: Sync?
    @Published private(set) var error: String?
    private var opening: Task<FieldVault, Error>?
    private var monitor: ConnectivityMonitor?

    private init() {}

    /// The vault, opened once per process: concurrent and repeated calls (the view's `.task`
    /// runs again whenever the view reappears; the background handler) share that one
    /// opening. A failed opening (e.g. before the first unlock) is retried by the next call.
    func openVault() async throws -> FieldVault {
        if let vault { return vault }
        if let opening { return try await opening.value }
        let task = Task { try await FieldVault.openOrCreate(staffId: Self.staffId) }
        opening = task
        defer { opening = nil }
        let vault = try await task.value
        self.vault = vault
        return vault
    }

    /// The UI's start: open the vault, then run the foreground sync loop (once).
    func open() async {
        do {
            let vault = try await openVault()
            error = nil
            if sync == nil, try await vault.syncSettings() != nil {
                let sync = try vault.sync()
                try sync.start() // does nothing if already started
                monitor = ConnectivityMonitor(sync: sync)
                self.sync = sync
            }
        } catch {
            self.error = error.localizedDescription
        }
    }
}
