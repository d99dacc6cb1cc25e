//! Checksums of metadata files and packages: parsing (`type` + hex value), hashing and
//! verification. Supported types: `sha` (an old alias of sha1), `sha1`, `sha224`, `sha256`,
//! `sha384`, `sha512`. `md5` and anything else is reported as unsupported.

use std::fmt;

use sha1::Digest;

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl ChecksumKind {
    /// Parses the rpm-md `type` attribute, case-insensitively; `sha` means sha1.
    pub fn parse(text: &str) -> Option<ChecksumKind> {
        let text = text.trim();
        let kind = if text.eq_ignore_ascii_case("sha") || text.eq_ignore_ascii_case("sha1") {
            ChecksumKind::Sha1
        } else if text.eq_ignore_ascii_case("sha224") {
            ChecksumKind::Sha224
        } else if text.eq_ignore_ascii_case("sha256") {
            ChecksumKind::Sha256
        } else if text.eq_ignore_ascii_case("sha384") {
            ChecksumKind::Sha384
        } else if text.eq_ignore_ascii_case("sha512") {
            ChecksumKind::Sha512
        } else {
            return None;
        };
        Some(kind)
    }

    /// The canonical lower-case name (`sha1`, `sha256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::Sha1 => "sha1",
            ChecksumKind::Sha224 => "sha224",
            ChecksumKind::Sha256 => "sha256",
            ChecksumKind::Sha384 => "sha384",
            ChecksumKind::Sha512 => "sha512",
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumKind::Sha1 => 20,
            ChecksumKind::Sha224 => 28,
            ChecksumKind::Sha256 => 32,
            ChecksumKind::Sha384 => 48,
            ChecksumKind::Sha512 => 64,
        }
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum value: algorithm and digest. Displays as lower-case hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    kind: ChecksumKind,
    digest: Box<[u8]>,
}

/// Why a checksum could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error("unsupported checksum type {0:?}")]
    UnsupportedKind(String),
    #[error("{kind} checksum {value:?} is not {expected} hexadecimal digits")]
    BadValue {
        kind: ChecksumKind,
        value: String,
        expected: usize,
    },
}

impl Checksum {
    /// Parses a `type` attribute and a hex value (surrounding whitespace ignored, any case).
    pub fn parse(kind: &str, hex: &str) -> Result<Checksum, ChecksumError> {
        let kind = ChecksumKind::parse(kind)
            .ok_or_else(|| ChecksumError::UnsupportedKind(kind.to_owned()))?;
        Checksum::from_hex(kind, hex)
    }

    /// Parses a hex value of a known algorithm.
    pub fn from_hex(kind: ChecksumKind, hex: &str) -> Result<Checksum, ChecksumError> {
        let hex = hex.trim();
        let bad = || ChecksumError::BadValue {
            kind,
            value: hex.to_owned(),
            expected: kind.digest_len() * 2,
        };
        if hex.len() != kind.digest_len() * 2 {
            return Err(bad());
        }
        let mut digest = Vec::with_capacity(kind.digest_len());
        for pair in hex.as_bytes().chunks_exact(2) {
            let (Some(high), Some(low)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(bad());
            };
            digest.push(high << 4 | low);
        }
        Ok(Checksum {
            kind,
            digest: digest.into_boxed_slice(),
        })
    }

    /// The checksum of `bytes`.
    pub fn compute(kind: ChecksumKind, bytes: &[u8]) -> Checksum {
        let mut hasher = ChecksumHasher::new(kind);
        hasher.update(bytes);
        hasher.finish()
    }

    pub fn kind(&self) -> ChecksumKind {
        self.kind
    }

    /// The raw digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The digest as lower-case hex.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(self.digest.len() * 2);
        for byte in &self.digest {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }

    /// True when `bytes` hash to this checksum.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Checksum::compute(self.kind, bytes) == *self
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.to_hex())
    }
}

/// Value of each hex digit, 0xff for anything else (a table: package checksums are parsed
/// tens of thousands of times per repository).
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut index = 0;
    while index < 10 {
        table[b'0' as usize + index] = index as u8;
        index += 1;
    }
    let mut index = 0;
    while index < 6 {
        table[b'a' as usize + index] = 10 + index as u8;
        table[b'A' as usize + index] = 10 + index as u8;
        index += 1;
    }
    table
};

fn hex_value(digit: u8) -> Option<u8> {
    let value = HEX_VALUES[usize::from(digit)];
    (value != 0xff).then_some(value)
}

/// Incremental hashing, for data that arrives in pieces (a download).
#[derive(Clone)]
pub struct ChecksumHasher {
    state: HasherState,
}

#[derive(Clone)]
enum HasherState {
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl ChecksumHasher {
    pub fn new(kind: ChecksumKind) -> ChecksumHasher {
        let state = match kind {
            ChecksumKind::Sha1 => HasherState::Sha1(sha1::Sha1::new()),
            ChecksumKind::Sha224 => HasherState::Sha224(sha2::Sha224::new()),
            ChecksumKind::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
            ChecksumKind::Sha384 => HasherState::Sha384(sha2::Sha384::new()),
            ChecksumKind::Sha512 => HasherState::Sha512(sha2::Sha512::new()),
        };
        ChecksumHasher { state }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            HasherState::Sha1(hasher) => hasher.update(bytes),
            HasherState::Sha224(hasher) => hasher.update(bytes),
            HasherState::Sha256(hasher) => hasher.update(bytes),
            HasherState::Sha384(hasher) => hasher.update(bytes),
            HasherState::Sha512(hasher) => hasher.update(bytes),
        }
    }

    pub fn finish(self) -> Checksum {
        let (kind, digest): (ChecksumKind, Box<[u8]>) = match self.state {
            HasherState::Sha1(hasher) => (ChecksumKind::Sha1, hasher.finalize().to_vec().into()),
            HasherState::Sha224(hasher) => {
                (ChecksumKind::Sha224, hasher.finalize().to_vec().into())
            }
            HasherState::Sha256(hasher) => {
                (ChecksumKind::Sha256, hasher.finalize().to_vec().into())
            }
            HasherState::Sha384(hasher) => {
                (ChecksumKind::Sha384, hasher.finalize().to_vec().into())
            }
            HasherState::Sha512(hasher) => {
                (ChecksumKind::Sha512, hasher.finalize().to_vec().into())
            }
        };
        Checksum { kind, digest }
    }
}

impl fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChecksumHasher")
    }
}
