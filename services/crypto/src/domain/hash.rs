//! Message digests.

use md5::Digest as _;

/// A digest algorithm. `Md5` and `Sha1` are broken for collisions: legacy checksums only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    Blake3,
}

impl HashAlgorithm {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }

    /// An incremental hasher, for data that arrives in chunks.
    pub fn hasher(self) -> Hasher {
        use ring::digest;
        Hasher(match self {
            HashAlgorithm::Md5 => State::Md5(md5::Md5::new()),
            HashAlgorithm::Sha1 => {
                State::Ring(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            HashAlgorithm::Sha224 => State::Sha224(sha2::Sha224::new()),
            HashAlgorithm::Sha256 => State::Ring(digest::Context::new(&digest::SHA256)),
            HashAlgorithm::Sha384 => State::Ring(digest::Context::new(&digest::SHA384)),
            HashAlgorithm::Sha512 => State::Ring(digest::Context::new(&digest::SHA512)),
            HashAlgorithm::Sha3_256 => State::Sha3_256(sha3::Sha3_256::new()),
            HashAlgorithm::Sha3_384 => State::Sha3_384(sha3::Sha3_384::new()),
            HashAlgorithm::Sha3_512 => State::Sha3_512(sha3::Sha3_512::new()),
            HashAlgorithm::Blake3 => State::Blake3(Box::new(blake3::Hasher::new())),
        })
    }
}

/// A digest in progress.
pub struct Hasher(State);

enum State {
    Ring(ring::digest::Context),
    Md5(md5::Md5),
    Sha224(sha2::Sha224),
    Sha3_256(sha3::Sha3_256),
    Sha3_384(sha3::Sha3_384),
    Sha3_512(sha3::Sha3_512),
    Blake3(Box<blake3::Hasher>),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Ring(context) => context.update(data),
            State::Md5(h) => h.update(data),
            State::Sha224(h) => h.update(data),
            State::Sha3_256(h) => h.update(data),
            State::Sha3_384(h) => h.update(data),
            State::Sha3_512(h) => h.update(data),
            State::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            State::Ring(context) => context.finish().as_ref().to_vec(),
            State::Md5(h) => h.finalize().to_vec(),
            State::Sha224(h) => h.finalize().to_vec(),
            State::Sha3_256(h) => h.finalize().to_vec(),
            State::Sha3_384(h) => h.finalize().to_vec(),
            State::Sha3_512(h) => h.finalize().to_vec(),
            State::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HashAlgorithm::*;

    fn check(algorithm: HashAlgorithm, input: &[u8], expected_hex: &str) {
        assert_eq!(
            hex::encode(algorithm.digest(input)),
            expected_hex,
            "{algorithm:?}"
        );
    }

    /// FIPS 180-4 / FIPS 202 "abc" vectors, RFC 1321 and the BLAKE3 reference vector for "".
    #[test]
    fn standard_vectors() {
        check(Md5, b"abc", "900150983cd24fb0d6963f7d28e17f72");
        check(Sha1, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
        check(
            Sha224,
            b"abc",
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        );
        check(
            Sha256,
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        check(
            Sha384,
            b"abc",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        );
        check(
            Sha512,
            b"abc",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        );
        check(
            Sha3_256,
            b"abc",
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        );
        check(
            Sha3_384,
            b"abc",
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
        );
        check(
            Sha3_512,
            b"abc",
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
        );
        check(
            Blake3,
            b"",
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        );
    }

    #[test]
    fn chunked_equals_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for algorithm in [
            Md5, Sha1, Sha224, Sha256, Sha384, Sha512, Sha3_256, Sha3_384, Sha3_512, Blake3,
        ] {
            let mut hasher = algorithm.hasher();
            for chunk in data.chunks(7919) {
                hasher.update(chunk);
            }
            let whole = {
                let mut one = algorithm.hasher();
                one.update(&data);
                one.finish()
            };
            assert_eq!(hasher.finish(), whole, "{algorithm:?}");
        }
    }
}
