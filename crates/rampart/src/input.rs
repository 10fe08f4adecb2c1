//! Opening what a user hands us: a pcap/pcapng capture (by magic number, whatever its name)
//! or a file holding exactly one flow-export datagram.

use anyhow::{bail, Context, Result};
use rampart_flow::pcap::{CaptureReadError, CaptureReader};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest single datagram file we accept: the largest UDP payload.
const MAX_DATAGRAM: u64 = 65_535;

pub enum Input {
    Capture(CaptureReader<Counted<File>>),
    Datagram(Vec<u8>),
}

pub fn open(path: &Path) -> Result<Input> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    match CaptureReader::new(Counted {
        inner: file,
        bytes: 0,
    }) {
        Ok(reader) => Ok(Input::Capture(reader)),
        Err(CaptureReadError::Decode(not_capture)) => {
            let mut bytes = Vec::new();
            let file =
                File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
            #[allow(clippy::disallowed_methods)] // bounded by take()
            file.take(MAX_DATAGRAM + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            let version = u16::from_be_bytes([
                bytes.first().copied().unwrap_or(0),
                bytes.get(1).copied().unwrap_or(0),
            ]);
            let flow_like = rampart_flow::sniff(&bytes).is_some() || matches!(version, 5 | 9 | 10);
            if bytes.len() as u64 > MAX_DATAGRAM || !flow_like {
                bail!(
                    "{}: {not_capture}, and not a single NetFlow/IPFIX/sFlow datagram either",
                    path.display()
                );
            }
            Ok(Input::Datagram(bytes))
        }
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// A reader that counts the bytes read through it, for progress reports.
#[derive(Debug)]
pub struct Counted<R> {
    inner: R,
    bytes: u64,
}

impl<R> Counted<R> {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}
