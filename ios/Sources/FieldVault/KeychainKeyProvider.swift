// The vault's root key, wrapped by a key that never leaves the device's
// secure hardware: a P-256 key in the Secure Enclave where the device has one
// (ECIES: ephemeral ECDH + AES-GCM, `eciesEncryptionCofactorVariableIVX963SHA256AESGCM`),
// otherwise (Simulator, old devices) a P-256 key in the Keychain, this device
// only, after first unlock. Only the wrapped blob is stored (by the core).
//
// Errors: `KeyProviderError.WrongKey` tells the core (and the app) that this
// vault can never be opened with this device's key, so it is reserved for two
// cases: the wrapping key is not in the Keychain (errSecItemNotFound: another
// device's vault, a restored backup, a reset Keychain), or the blob does not
// decrypt under it (errSecParam/errSecDecode from the ECIES AES-GCM step: an
// authentication failure, a tampered or foreign blob). Every other failure —
// the device locked (errSecInteractionNotAllowed), the Keychain or Secure
// Enclave not available now (errSecNotAvailable, CryptoTokenKit errors), I/O,
// memory, a missing entitlement — is `Unavailable`: retry later.
//
// Zeroing: Swift gives no supported way to wipe these buffers. `key` (for
// `wrap`) is the generated code's own `Data`, lifted from uniffi's transfer
// buffer; this provider cannot zero the caller's copy (mutating a `let`
// parameter copies it first) and does not pretend to. The plaintext that
// `unwrap` returns is handed to uniffi, which copies it into a transfer buffer
// for the core; both the `Data` and that buffer are freed without zeroing
// (see docs/adr/0005-ffi-bindings.md).
import Foundation
import Security
import CryptoKit
import FieldVaultFFI

public final class KeychainKeyProvider: KeyProvider, @unchecked Sendable {
    private let tag: Data
    private let algorithm: SecKeyAlgorithm = .eciesEncryptionCofactorVariableIVX963SHA256AESGCM
    private let lock = NSLock()

    public init(tag: String = "jp.fieldvault.root-wrap.v1") {
        self.tag = Data(tag.utf8)
    }

    /// True when the wrapping key lives in the Secure Enclave.
    public var isSecureEnclaveBacked: Bool {
        (try? privateKey(create: false)).map { attributes(of: $0)[kSecAttrTokenID as String] as? String == kSecAttrTokenIDSecureEnclave as String } ?? false
    }

    private func attributes(of key: SecKey) -> [String: Any] {
        (SecKeyCopyAttributes(key) as? [String: Any]) ?? [:]
    }

    private func privateKey(create: Bool) throws -> SecKey {
        lock.lock(); defer { lock.unlock() }
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let item else { throw KeyProviderError.Unavailable(reason: "the keychain returned no key") }
            return item as! SecKey // swiftlint:disable:this force_cast — the query asks for a key ref
        case errSecItemNotFound:
            // No wrapping key on this device: a vault wrapped by it can never be opened here.
            guard create else { throw KeyProviderError.WrongKey }
            if SecureEnclave.isAvailable, let key = try? makeKey(secureEnclave: true) { return key }
            return try makeKey(secureEnclave: false)
        case errSecInteractionNotAllowed:
            throw KeyProviderError.Unavailable(reason: "the device is locked")
        default:
            // Never create a second key here: the first one may only be unreadable for now.
            throw KeyProviderError.Unavailable(reason: "the keychain could not read the wrapping key: \(Self.describe(status))")
        }
    }

    /// The Security framework's text for `status`, with its number (never a key or value).
    private static func describe(_ status: OSStatus) -> String {
        let text = (SecCopyErrorMessageString(status, nil) as String?) ?? "OSStatus"
        return "\(text) (\(status))"
    }

    /// Domain and code of a Security framework error (the description may quote input; not kept).
    private static func describe(_ error: NSError?) -> String {
        guard let error else { return "unknown error" }
        return "\(error.domain) \(error.code)"
    }

    private func makeKey(secureEnclave: Bool) throws -> SecKey {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            secureEnclave ? .privateKeyUsage : [], &error
        ) else {
            let failure = error.map { $0.takeRetainedValue() as Error as NSError }
            throw KeyProviderError.Unavailable(reason: "could not create the key's access control: \(Self.describe(failure))")
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag,
                kSecAttrAccessControl as String: access,
            ] as [String: Any],
        ]
        if secureEnclave {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            let failure = error.map { $0.takeRetainedValue() as Error as NSError }
            throw KeyProviderError.Unavailable(reason: "the keychain could not create the wrapping key: \(Self.describe(failure))")
        }
        return key
    }

    public func wrap(key: Data) throws -> Data {
        // `key` is not zeroed here: see the note at the top of this file.
        guard let publicKey = SecKeyCopyPublicKey(try privateKey(create: true)) else {
            throw KeyProviderError.Unavailable(reason: "the wrapping key has no public key")
        }
        var error: Unmanaged<CFError>?
        guard let wrapped = SecKeyCreateEncryptedData(publicKey, algorithm, key as CFData, &error) as Data? else {
            let failure = error.map { $0.takeRetainedValue() as Error as NSError }
            throw KeyProviderError.Unavailable(reason: "the keychain refused to wrap the key: \(Self.describe(failure))")
        }
        return Data([1]) + wrapped // version 1
    }

    public func unwrap(wrapped: Data) throws -> Data {
        guard wrapped.first == 1 else { throw KeyProviderError.WrongKey } // not a blob of this provider
        let key = try privateKey(create: false)
        guard SecKeyIsAlgorithmSupported(key, .decrypt, algorithm) else {
            throw KeyProviderError.Unavailable(reason: "the wrapping key does not support ECIES decryption")
        }
        var error: Unmanaged<CFError>?
        guard let plaintext = SecKeyCreateDecryptedData(key, algorithm, wrapped.dropFirst() as CFData, &error) as Data? else {
            let failure = error.map { $0.takeRetainedValue() as Error as NSError }
            if let failure, failure.domain == NSOSStatusErrorDomain,
               failure.code == Int(errSecParam) || failure.code == Int(errSecDecode) {
                // The right key, and the blob does not open under it: the ECIES AES-GCM tag
                // did not verify ("ECIES: Failed to aes-gcm decrypt data") or the blob is
                // malformed (too short, no valid ephemeral key) — another device's or a
                // tampered blob.
                throw KeyProviderError.WrongKey
            }
            // Locked device, Secure Enclave busy or unavailable, I/O: not a verdict on the vault.
            throw KeyProviderError.Unavailable(reason: "the keychain could not unwrap the key: \(Self.describe(failure))")
        }
        return plaintext
    }
}
