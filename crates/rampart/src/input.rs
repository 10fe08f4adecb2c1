//! Opening what a user hands us: a pcap/pcapng capture (by magic number, whatever its name),
//! a file holding exactly one flow-export datagram, or a text log (its format named, or
//! told from its first lines).

use anyhow::{bail, Context, Result};
use rampart_flow::pcap::{CaptureReadError, CaptureReader};
use rampart_logs::{detect_format, Format, Timestamp};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest single datagram file we accept: the largest UDP payload.
const MAX_DATAGRAM: u64 = 65_535;

/// Lines of a log read to tell its format.
const SNIFF_LINES: usize = 20;

pub enum Input {
    Capture(CaptureReader<Counted<File>>),
    Datagram(Vec<u8>),
}

/// What `analyze` takes: packets or flows, or a text log.
pub enum AnyInput {
    Flows(Input),
    Log(Log),
}

/// A text log to read from its start.
pub struct Log {
    pub file: Counted<File>,
    pub format: Format,
    /// The file's modification time: the reference year-less (RFC 3164) stamps are read
    /// against.
    pub reference: Timestamp,
}

/// Opens a capture or a single datagram (`decode`, `replay`); a log is refused.
pub fn open(path: &Path) -> Result<Input> {
    match open_any(path, None)? {
        AnyInput::Log(_) => bail!(
            "{}: a text log, not a capture or a flow datagram (`rampart analyze` reads logs)",
            path.display()
        ),
        AnyInput::Flows(input) => Ok(input),
    }
}

/// Opens a capture, a single datagram or a text log (`analyze`); `log_format` names the
/// format of a file that is no capture.
pub fn open_any(path: &Path, log_format: Option<Format>) -> Result<AnyInput> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    match CaptureReader::new(Counted {
        inner: file,
        bytes: 0,
    }) {
        Ok(reader) => Ok(AnyInput::Flows(Input::Capture(reader))),
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
            if log_format.is_none() && bytes.len() as u64 <= MAX_DATAGRAM && flow_like {
                return Ok(AnyInput::Flows(Input::Datagram(bytes)));
            }
            let format = match log_format {
                Some(f) => f,
                None => {
                    let text = String::from_utf8_lossy(&bytes);
                    let lines: Vec<&str> = text
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .take(SNIFF_LINES)
                        .collect();
                    match detect_format(&lines) {
                        Some(f) if !text.contains('\0') => f,
                        _ => bail!(
                            "{}: {not_capture}, not a NetFlow/IPFIX/sFlow datagram, and no log \
                             format we know in its first lines (name one with --log-format)",
                            path.display()
                        ),
                    }
                }
            };
            let reference = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(Timestamp::EPOCH, |d| {
                    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
                });
            let file =
                File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
            Ok(AnyInput::Log(Log {
                file: Counted {
                    inner: file,
                    bytes: 0,
                },
                format,
                reference,
            }))
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
