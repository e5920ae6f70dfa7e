// Background sync with BGTaskScheduler: iOS runs the task when it sees fit,
// with network, and the app reschedules it each time. Register the identifier
// under BGTaskSchedulerPermittedIdentifiers in Info.plist and call
// `BackgroundSync.register` before the app finishes launching.
import Foundation
import BackgroundTasks
import FieldVaultFFI

public enum BackgroundSync {
    public static let identifier = "jp.fieldvault.sync"

    /// `vault` returns the open vault (or nil before enrollment).
    public static func register(vault: @escaping @Sendable () async -> FieldVault?) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let task = task as? BGProcessingTask else { return }
            schedule()
            let work = Task {
                do {
                    guard let vault = await vault(), try vault.syncSettings() != nil else {
                        task.setTaskCompleted(success: true)
                        return
                    }
                    try await vault.sync().syncNow()
                    task.setTaskCompleted(success: true)
                } catch FieldVaultError.Revoked {
                    // The vault has wiped itself: no more background work.
                    BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: identifier)
                    task.setTaskCompleted(success: true)
                } catch {
                    task.setTaskCompleted(success: false)
                }
            }
            task.expirationHandler = { work.cancel() }
        }
    }

    /// Asks iOS for a pass in about 15 minutes, only with network.
    public static func schedule() {
        let request = BGProcessingTaskRequest(identifier: identifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}
