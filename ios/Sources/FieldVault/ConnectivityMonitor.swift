// NWPathMonitor → notifyConnectivity: the engine wakes the moment a network
// is back instead of waiting for its timer.
import Foundation
import Network

public final class ConnectivityMonitor: @unchecked Sendable {
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "jp.fieldvault.connectivity")

    public init(sync: Sync) {
        monitor.pathUpdateHandler = { [weak sync] path in
            sync?.notifyConnectivity(online: path.status == .satisfied)
        }
        monitor.start(queue: queue)
    }

    deinit { monitor.cancel() }
}
