// The vault's root key, wrapped by a key that never leaves the device's
// secure hardware: a P-256 key in the Secure Enclave where the device has one
// (ECIES: ephemeral ECDH + AES-GCM, `eciesEncryptionCofactorVariableIVX963SHA256AESGCM`),
// otherwise (Simulator, old devices) a P-256 key in the Keychain, this device
// only, after first unlock. Only the wrapped blob is stored (by the core).
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
        if status == errSecSuccess, let item {
            return item as! SecKey // swiftlint:disable:this force_cast — the query asks for a key ref
        }
        if status == errSecInteractionNotAllowed {
            throw KeyProviderError.Unavailable(reason: "the device is locked")
        }
        guard create else { throw KeyProviderError.WrongKey }
        if SecureEnclave.isAvailable, let key = try? makeKey(secureEnclave: true) { return key }
        return try makeKey(secureEnclave: false)
    }

    private func makeKey(secureEnclave: Bool) throws -> SecKey {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            secureEnclave ? .privateKeyUsage : [], &error
        ) else {
            throw KeyProviderError.Unavailable(reason: "could not create the key's access control")
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
            throw KeyProviderError.Unavailable(reason: "the keychain could not create the wrapping key")
        }
        return key
    }

    public func wrap(key: Data) throws -> Data {
        var plaintext = key
        defer { plaintext.resetBytes(in: 0..<plaintext.count) }
        guard let publicKey = SecKeyCopyPublicKey(try privateKey(create: true)) else {
            throw KeyProviderError.Unavailable(reason: "the wrapping key has no public key")
        }
        var error: Unmanaged<CFError>?
        guard let wrapped = SecKeyCreateEncryptedData(publicKey, algorithm, plaintext as CFData, &error) as Data? else {
            throw KeyProviderError.Unavailable(reason: "the keychain refused to wrap the key")
        }
        return Data([1]) + wrapped // version 1
    }

    public func unwrap(wrapped: Data) throws -> Data {
        guard wrapped.first == 1 else { throw KeyProviderError.WrongKey }
        let key = try privateKey(create: false)
        var error: Unmanaged<CFError>?
        guard let plaintext = SecKeyCreateDecryptedData(key, algorithm, wrapped.dropFirst() as CFData, &error) as Data? else {
            // An authentication failure (another device's key, a tampered blob).
            throw KeyProviderError.WrongKey
        }
        return plaintext
    }
}
