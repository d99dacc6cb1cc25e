//! Decompression of apt's index files, detected by magic bytes: everything
//! [`crate::repo::compression`] knows (gzip, xz, bzip2, zstd) plus the lz4 frame format,
//! which apt uses for its lists when `Acquire::GzipIndexes` is set (Debian and Ubuntu
//! container images do this). Plain data passes through unchanged.

use std::io::{self, BufRead, BufReader, Read};

use crate::repo::compression::{Compression, Decompressed};

/// The magic number of an lz4 frame (little-endian `0x184D2204`).
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Buffer size of the decompressed stream.
const BUFFER_SIZE: usize = 64 * 1024;

/// The compression of apt data, as detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AptCompression {
    /// One of the formats the rpm-md parsers share (including none).
    Common(Compression),
    Lz4,
}

impl AptCompression {
    /// Recognises a format from the first bytes of a file (six are enough).
    pub fn detect(prefix: &[u8]) -> AptCompression {
        if prefix.starts_with(&LZ4_MAGIC) {
            AptCompression::Lz4
        } else {
            AptCompression::Common(Compression::detect(prefix))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AptCompression::Common(compression) => compression.name(),
            AptCompression::Lz4 => "lz4",
        }
    }
}

/// A reader that yields the decompressed bytes of its input.
pub struct Decompressor<R: BufRead> {
    inner: Inner<R>,
    compression: AptCompression,
}

enum Inner<R: BufRead> {
    Plain(R),
    Common(BufReader<Decompressed<R>>),
    Lz4(BufReader<lz4_flex::frame::FrameDecoder<R>>),
}

impl<R: BufRead> std::fmt::Debug for Decompressor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("compression", &self.compression().name())
            .finish()
    }
}

impl<R: BufRead> Decompressor<R> {
    /// Peeks at the first bytes of `reader` and wraps it in the matching decoder.
    pub fn new(mut reader: R) -> io::Result<Decompressor<R>> {
        let compression = AptCompression::detect(reader.fill_buf()?);
        let inner = match compression {
            AptCompression::Lz4 => Inner::Lz4(BufReader::with_capacity(
                BUFFER_SIZE,
                lz4_flex::frame::FrameDecoder::new(reader),
            )),
            AptCompression::Common(Compression::None) => Inner::Plain(reader),
            AptCompression::Common(_) => Inner::Common(BufReader::with_capacity(
                BUFFER_SIZE,
                Decompressed::new(reader)?,
            )),
        };
        Ok(Decompressor { inner, compression })
    }

    /// The detected compression.
    pub fn compression(&self) -> AptCompression {
        self.compression
    }
}

impl<R: BufRead> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(reader) => reader.read(buf),
            Inner::Common(reader) => reader.read(buf),
            Inner::Lz4(reader) => reader.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for Decompressor<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            Inner::Plain(reader) => reader.fill_buf(),
            Inner::Common(reader) => reader.fill_buf(),
            Inner::Lz4(reader) => reader.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.inner {
            Inner::Plain(reader) => reader.consume(amount),
            Inner::Common(reader) => reader.consume(amount),
            Inner::Lz4(reader) => reader.consume(amount),
        }
    }
}
