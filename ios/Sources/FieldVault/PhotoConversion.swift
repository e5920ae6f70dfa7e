// HEIC (the iPhone camera's default) → JPEG with ImageIO before ingest: the
// core reads JPEG, PNG and WebP. The EXIF/GPS properties are carried over so
// the core can take capture time and position into the sealed document; the
// core then strips every metadata segment from the image it stores.
import Foundation
import ImageIO
import UniformTypeIdentifiers

enum PhotoConversion {
    static func jpegIfNeeded(_ data: Data, quality: Double = 0.92) throws -> Data {
        guard let source = CGImageSourceCreateWithData(data as CFData, nil),
              let type = CGImageSourceGetType(source) as String? else {
            return data // let the core report what it is
        }
        let heif = [UTType.heic.identifier, UTType.heif.identifier, "public.heics"]
        guard heif.contains(type) else { return data }
        let output = NSMutableData()
        guard let destination = CGImageDestinationCreateWithData(output, UTType.jpeg.identifier as CFString, 1, nil) else {
            throw FieldVaultError.Photo(message: "could not create a JPEG encoder")
        }
        let options: [CFString: Any] = [kCGImageDestinationLossyCompressionQuality: quality]
        // Copies the primary image and its properties (orientation, EXIF, GPS).
        CGImageDestinationAddImageFromSource(destination, source, 0, options as CFDictionary)
        guard CGImageDestinationFinalize(destination) else {
            throw FieldVaultError.Photo(message: "could not convert the HEIC photo to JPEG")
        }
        return output as Data
    }
}
