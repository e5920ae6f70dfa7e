import SwiftUI
import FieldVault

struct ContentView: View {
    let vault: FieldVault
    let sync: Sync?

    var body: some View {
        VStack(spacing: 0) {
            SyncStatusBar(sync: sync)
            TabView {
                TaxHelpView(vault: vault).tabItem { Label("確定申告", systemImage: "doc.text") }
                BearSightingView(vault: vault).tabItem { Label("クマ出没", systemImage: "pawprint") }
                DamageReportView(vault: vault).tabItem { Label("被害報告", systemImage: "house") }
            }
        }
    }
}

/// One line: what sync is doing, what is pending, when it last succeeded.
struct SyncStatusBar: View {
    let sync: Sync?
    @State private var state: SyncState?

    var body: some View {
        HStack {
            Text(label).font(.footnote)
            Spacer()
            if let sync, state?.phase != .revoked {
                Button("今すぐ同期") { Task { try? await sync.syncNow() } }.font(.footnote)
            }
        }
        .padding(.horizontal).padding(.vertical, 6)
        .background(color)
        .task {
            guard let sync else { return }
            for await next in sync.states { state = next }
        }
    }

    private var label: String {
        guard sync != nil else { return "未登録の端末です(同期なし)" }
        guard let state else { return "…" }
        switch state.phase {
        case .idle:
            if let ms = state.lastSuccessMs {
                return "同期済み " + Date(timeIntervalSince1970: Double(ms) / 1000).formatted(date: .omitted, time: .shortened)
            }
            return "未同期"
        case .pushing: return "送信中 (\(state.pendingChanges) 件)"
        case .pulling: return "受信中"
        case .backoff: return "再試行待ち: \(state.lastError ?? "")"
        case .offline: return "オフライン (未送信 \(state.pendingChanges) 件)"
        case .revoked: return "この端末は無効化され、データは消去されました"
        }
    }

    private var color: Color {
        switch state?.phase {
        case .idle: return .green.opacity(0.2)
        case .pushing, .pulling: return .blue.opacity(0.2)
        case .backoff: return .orange.opacity(0.2)
        case .revoked: return .red.opacity(0.2)
        default: return .gray.opacity(0.2)
        }
    }
}

/// The library's messages name what failed, never a value.
func describe(_ error: Error) -> String {
    if let error = error as? FieldVaultError, case .Validation = error { return "入力を確認してください" }
    return (error as? LocalizedError)?.errorDescription ?? String(describing: error)
}
