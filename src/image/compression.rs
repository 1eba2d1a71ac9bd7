//! Layer and archive compression, recognised by its magic bytes rather than
//! by what a media type claims: gzip, zstd, or none.

use std::io::{self, BufRead, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression a stream starting with `head` uses.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A decompressing reader that gives its source back, so that a digest of
/// the compressed bytes can be completed after the content is read.
pub enum Decoder<R: BufRead> {
    Plain(R),
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Decoder<R> {
    pub fn new(mut r: R) -> io::Result<Self> {
        Ok(match detect(fill(&mut r, 4)?) {
            Compression::None => Decoder::Plain(r),
            Compression::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(r)?),
        })
    }

    pub fn compression(&self) -> Compression {
        match self {
            Decoder::Plain(_) => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Zstd(_) => Compression::Zstd,
        }
    }

    pub fn into_inner(self) -> R {
        match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
        }
    }
}

/// The first bytes of `r` (at most `n`, fewer only at its end), unconsumed.
fn fill<R: BufRead>(r: &mut R, n: usize) -> io::Result<&[u8]> {
    // A BufReader's buffer holds at least a few bytes once filled unless the
    // stream ends; one fill is enough for magic numbers.
    let buf = r.fill_buf()?;
    Ok(&buf[..buf.len().min(n)])
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn round_trip(data: &[u8], packed: Vec<u8>, kind: Compression) {
        let mut d = Decoder::new(&packed[..]).unwrap();
        assert_eq!(d.compression(), kind);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn detects_and_decodes() {
        let data = b"some layer bytes".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        round_trip(&data, gz.finish().unwrap(), Compression::Gzip);
        round_trip(&data, zstd::encode_all(&data[..], 1).unwrap(), Compression::Zstd);
        round_trip(&data, data.clone(), Compression::None);
        round_trip(b"", Vec::new(), Compression::None);
    }
}
