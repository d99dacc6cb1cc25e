//! Transparent decompression of metadata: gzip, xz, bzip2 and zstd, detected by magic bytes
//! (never by file name, which mirrors and caches get wrong). Anything else passes through
//! unchanged and is left to the XML or sqlite parser to accept or reject.

use std::io::{self, BufRead, BufReader, Read};

/// Buffer size of a decompressed stream.
const BUFFER_SIZE: usize = 64 * 1024;

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

impl Compression {
    /// Recognises a format from the first bytes of a file (six are enough).
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if prefix.starts_with(b"BZh") {
            Compression::Bzip2
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }
}

/// A reader that yields the decompressed bytes of its input.
pub struct Decompressed<R: BufRead> {
    inner: Inner<R>,
    compression: Compression,
}

enum Inner<R: BufRead> {
    Plain(R),
    Gzip(BufReader<flate2::bufread::MultiGzDecoder<R>>),
    Xz(BufReader<liblzma::bufread::XzDecoder<R>>),
    Bzip2(BufReader<bzip2::bufread::MultiBzDecoder<R>>),
    Zstd(BufReader<zstd::stream::read::Decoder<'static, R>>),
}

impl<R: BufRead> Decompressed<R> {
    /// Peeks at the first bytes of `reader` and wraps it in the matching decoder. Concatenated
    /// gzip, xz, bzip2 and zstd members are read as one stream, as the command-line tools do.
    /// Large reads (as the XML reader makes) bypass the internal buffer.
    pub fn new(mut reader: R) -> io::Result<Decompressed<R>> {
        let compression = Compression::detect(reader.fill_buf()?);
        let inner = match compression {
            Compression::None => Inner::Plain(reader),
            Compression::Gzip => {
                Inner::Gzip(buffered(flate2::bufread::MultiGzDecoder::new(reader)))
            }
            Compression::Xz => Inner::Xz(buffered(liblzma::bufread::XzDecoder::new_multi_decoder(
                reader,
            ))),
            Compression::Bzip2 => {
                Inner::Bzip2(buffered(bzip2::bufread::MultiBzDecoder::new(reader)))
            }
            Compression::Zstd => {
                Inner::Zstd(buffered(zstd::stream::read::Decoder::with_buffer(reader)?))
            }
        };
        Ok(Decompressed { inner, compression })
    }

    /// The detected compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }
}

impl<R: BufRead> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(reader) => reader.read(buf),
            Inner::Gzip(reader) => reader.read(buf),
            Inner::Xz(reader) => reader.read(buf),
            Inner::Bzip2(reader) => reader.read(buf),
            Inner::Zstd(reader) => reader.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for Decompressed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            Inner::Plain(reader) => reader.fill_buf(),
            Inner::Gzip(reader) => reader.fill_buf(),
            Inner::Xz(reader) => reader.fill_buf(),
            Inner::Bzip2(reader) => reader.fill_buf(),
            Inner::Zstd(reader) => reader.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.inner {
            Inner::Plain(reader) => reader.consume(amount),
            Inner::Gzip(reader) => reader.consume(amount),
            Inner::Xz(reader) => reader.consume(amount),
            Inner::Bzip2(reader) => reader.consume(amount),
            Inner::Zstd(reader) => reader.consume(amount),
        }
    }
}

fn buffered<D: Read>(decoder: D) -> BufReader<D> {
    BufReader::with_capacity(BUFFER_SIZE, decoder)
}

/// Decompresses a whole in-memory file (compressed or not) into a vector, refusing to grow
/// past `limit` bytes (a decompression bomb guard; `None` for no limit).
pub fn decompress_to_vec(bytes: &[u8], limit: Option<u64>) -> io::Result<Vec<u8>> {
    if Compression::detect(bytes) == Compression::None {
        return Ok(bytes.to_vec());
    }
    let mut reader = Decompressed::new(bytes)?;
    let mut out = Vec::new();
    match limit {
        None => {
            reader.read_to_end(&mut out)?;
        }
        Some(limit) => {
            let read = (&mut reader)
                .take(limit.saturating_add(1))
                .read_to_end(&mut out)?;
            if u64::try_from(read).unwrap_or(u64::MAX) > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("decompressed data is larger than {limit} bytes"),
                ));
            }
        }
    }
    Ok(out)
}
