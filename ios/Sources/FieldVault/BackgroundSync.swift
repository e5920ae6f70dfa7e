// Background sync with BGTaskScheduler: iOS runs the task when it sees fit,
// with network, and the app reschedules it each time. Register the identifier
// under BGTaskSchedulerPermittedIdentifiers in Info.plist and call
// `BackgroundSync.register` before the app finishes launching.
import Foundation
import BackgroundTasks
import FieldVaultFFI

public enum BackgroundSync {
    public static let identifier = "jp.fieldvault.sync"

    /// `vault` returns the vault, or nil before there is one or before enrollment. iOS may
    /// launch the app in the background just to run this task, with no UI code run: `vault`
    /// must then open the vault itself (and must not open a second one when the UI already
    /// has). What it throws fails the task (e.g. `FieldVaultError.KeyUnavailable` before the
    /// first unlock after a reboot); the next scheduled task tries again.
    ///
    /// Expiration: iOS calls the expiration handler when the task's time is up. The generated
    /// async calls do not observe Swift task cancellation, so the handler does not wait for
    /// the pass: it completes the task at once (`success: false`), and stops the engine
    /// (which aborts the pass between two requests) when no foreground loop uses it — a
    /// started engine is left running, to be suspended with the app. The task is completed
    /// exactly once, whichever comes first.
    public static func register(vault: @escaping @Sendable () async throws -> FieldVault?) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            schedule()
            let run = BackgroundRun(task)
            task.expirationHandler = { run.expire() }
            run.start {
                guard let vault = try await vault(), try await vault.syncSettings() != nil else {
                    return true // nothing to sync yet
                }
                let sync = try vault.sync()
                try run.attach(sync)
                try await sync.syncNow()
                return true
            }
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

/// One background task's pass: completes the `BGTask` exactly once, from the pass or from
/// the expiration handler, whichever comes first.
private final class BackgroundRun: @unchecked Sendable {
    private let task: BGTask
    private let lock = NSLock()
    private var completed = false
    private var work: Task<Void, Never>?
    private var sync: Sync?

    init(_ task: BGTask) { self.task = task }

    func start(_ pass: @escaping @Sendable () async throws -> Bool) {
        let work = Task {
            do {
                complete(success: try await pass())
            } catch FieldVaultError.Revoked {
                // The vault has wiped itself: no more background work.
                BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: BackgroundSync.identifier)
                complete(success: true)
            } catch {
                complete(success: false)
            }
        }
        lock.lock()
        let expired = completed
        self.work = work
        lock.unlock()
        if expired { work.cancel() }
    }

    /// Remembers the engine the pass runs on, so that expiration can stop it. Throws
    /// `CancellationError` if the task has already expired: then no pass starts.
    func attach(_ sync: Sync) throws {
        lock.lock()
        let expired = completed
        if !expired { self.sync = sync }
        lock.unlock()
        if expired { throw CancellationError() }
    }

    func expire() {
        lock.lock()
        let (done, work, sync) = (completed, self.work, self.sync)
        lock.unlock()
        if done { return } // the pass finished first

        work?.cancel()
        // A pass on an engine whose loop the app started (it was in the foreground) is left
        // to that loop; an engine that only this task uses is stopped, and the next
        // `FieldVault.sync()` makes a new one.
        if let sync, !sync.isStarted { sync.stop() }
        complete(success: false)
    }

    private func complete(success: Bool) {
        lock.lock()
        let first = !completed
        completed = true
        lock.unlock()
        if first { task.setTaskCompleted(success: success) }
    }
}
