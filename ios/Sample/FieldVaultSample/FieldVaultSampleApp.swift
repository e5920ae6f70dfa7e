import SwiftUI
import BackgroundTasks
import FieldVault

/// Opens the vault (Keychain / Secure Enclave wrapped) and shows three screens under a sync bar.
@main
struct FieldVaultSampleApp: App {
    @StateObject private var model = AppModel.shared

    init() {
        OSLogLogger.install()
        // A background launch runs this init but no view: the handler opens the vault itself,
        // through the same model, so it never opens a second one beside the UI's.
        BackgroundSync.register {
            // After a revocation there is no vault until the user sets up again: nothing to sync.
            if await AppModel.shared.revoked { return nil }
            let vault = try await AppModel.shared.openVault()
            // The pass runs on the vault's shared `Sync`: watch it too, so that a revocation
            // found by a background launch also drops the wiped vault before any UI opens it.
            await AppModel.shared.watchSync(of: vault)
            return vault
        }
        BackgroundSync.schedule()
    }

    var body: some Scene {
        WindowGroup {
            Group {
                if let vault = model.vault {
                    ContentView(vault: vault, sync: model.sync)
                } else if model.revoked {
                    VStack(spacing: 12) {
                        Text("この端末は無効化され、データは消去されました")
                        Button("もう一度設定する") { Task { await model.setUpAgain() } }
                    }
                    .padding()
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
    /// Set once a revocation wiped the vault: no vault is held until `setUpAgain`.
    @Published private(set) var revoked = false
    private var opening: Task<FieldVault, Error>?
    private var monitor: ConnectivityMonitor?
    /// The `Sync` already watched for a revocation (one watcher per `Sync`).
    private weak var watched: Sync?

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
        guard !revoked else { return } // only "set up again" opens a vault after a revocation
        do {
            let vault = try await openVault()
            error = nil
            if sync == nil, try await vault.syncSettings() != nil {
                // `sync()` reads the enrolment (a sealed read): not on the main actor.
                let sync = try await Task.detached { try vault.sync() }.value
                guard self.vault === vault, self.sync == nil else { return } // revoked, or another open() won
                try sync.start() // does nothing if already started
                monitor = ConnectivityMonitor(sync: sync)
                self.sync = sync
                watchForRevocation(sync)
            }
        } catch {
            self.error = error.localizedDescription
        }
    }

    /// Leaves the revoked state: opening creates a new, unenrolled vault.
    func setUpAgain() async {
        revoked = false
        BackgroundSync.schedule()
        await open()
    }

    /// Watches `vault`'s shared `Sync` (the one `BackgroundSync` runs its pass on) for a
    /// revocation; an unenrolled vault has none.
    func watchSync(of vault: FieldVault) async {
        guard !revoked, (try? await vault.syncSettings()) != nil,
              let sync = try? await Task.detached(operation: { try vault.sync() }).value,
              self.vault === vault else { return }
        watchForRevocation(sync)
    }

    /// Whichever pass learns of a revocation (the loop, 今すぐ同期, the background task: all run on
    /// this `Sync`) fails with `Revoked` after wiping the vault, and leaves the engine in the
    /// `.revoked` phase: from then on the vault must not be used.
    private func watchForRevocation(_ sync: Sync) {
        if watched === sync { return }
        watched = sync
        Task {
            for await state in sync.states where state.phase == .revoked {
                self.dropRevokedVault()
                return
            }
        }
    }

    /// Drops every reference to the wiped vault (its sync, the monitor, the vault: the screens
    /// holding it go with it) so nothing uses it again, and stops background sync as
    /// `BackgroundSync` does itself on `Revoked`. The app shows its set-up state.
    private func dropRevokedVault() {
        sync?.stop()
        sync = nil
        monitor = nil
        vault = nil
        revoked = true
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: BackgroundSync.identifier)
    }
}
