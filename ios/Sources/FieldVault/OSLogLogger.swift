// Routes the library's log records to os_log. Records carry a level, the Rust
// module and a message; the library never puts field values, keys or tokens
// in them (still logged as private by default: no value is needed to debug).
import Foundation
import os
import FieldVaultFFI

public final class OSLogLogger: FieldVaultFFI.Logger, @unchecked Sendable {
    private let osLog = os.Logger(subsystem: "jp.fieldvault", category: "core")

    public init() {}

    public func log(level: LogLevel, target: String, message: String) {
        let type: OSLogType
        switch level {
        case .error: type = .error
        case .warn: type = .default
        case .info: type = .info
        case .debug, .trace: type = .debug
        }
        osLog.log(level: type, "[\(target, privacy: .public)] \(message, privacy: .public)")
    }

    /// Installs the logger for records at `maxLevel` or more severe.
    public static func install(maxLevel: LogLevel = .info) {
        FieldVaultFFI.setLogger(logger: OSLogLogger(), maxLevel: maxLevel)
    }
}
