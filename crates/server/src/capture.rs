//! Live packet capture (`listen.interfaces`, cargo feature `capture`): AF_PACKET TPACKET_V3
//! rings, `listen.capture_threads` sockets per interface in one PACKET_FANOUT_HASH group, each
//! read by its own thread. Every frame goes through the same [`CaptureDecoder`] as `rampart
//! analyze` of a pcap, with the ring's kernel timestamp as its time, so live packets and a
//! capture of them give the same records.

use crate::engine::Input;
use crate::shared::Shared;
use anyhow::Result;
use rampart_config::ListenConfig;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

#[cfg(feature = "capture")]
pub use ring::{open, Ring};

/// Without the feature there are no rings: configured interfaces are an error at start.
#[cfg(not(feature = "capture"))]
#[derive(Debug)]
pub enum Ring {}

#[cfg(not(feature = "capture"))]
pub fn open(listen: &ListenConfig, _shared: &Shared) -> Result<Vec<Ring>> {
    if let Some(name) = listen.interfaces.first() {
        anyhow::bail!(
            "listen.interfaces: cannot capture on {name}: this rampart was built without the \
             capture feature (build it with `cargo build --release --features rampart/capture`)"
        );
    }
    Ok(Vec::new())
}

/// One capture thread's loop; ends when `shared.stopping` is set.
#[cfg(feature = "capture")]
pub fn run(ring: Ring, shared: Arc<Shared>, queue: SyncSender<Input>) {
    ring.run(&shared, &queue);
}

#[cfg(not(feature = "capture"))]
pub fn run(ring: Ring, _: Arc<Shared>, _: SyncSender<Input>) {
    match ring {}
}

#[cfg(any(feature = "capture", test))]
mod frames {
    use crate::shared::CaptureCounters;
    use rampart_flow::pcap::CapturedPacket;
    use rampart_flow::FlowRecord;
    use rampart_flow::{CaptureDecoder, CaptureStats, DecodeError, Limits, Timestamp};
    use std::sync::atomic::Ordering;

    /// Turns frames into record batches and keeps the counts between publications. No
    /// sockets here: the ring shell hands it bytes, a link type and the kernel's time.
    #[derive(Debug)]
    pub struct Frames {
        decoder: CaptureDecoder,
        linktype: u32,
        /// Frames stamped before this are not the interface's: see [`Frames::new`].
        not_before: Option<Timestamp>,
        /// Frames skipped for that.
        pub skipped: u64,
        pub batch: Vec<FlowRecord>,
        packets: u64,
        bytes: u64,
        last_error: Option<DecodeError>,
        published: CaptureStats,
    }

    impl Frames {
        /// `linktype` is a pcap `LINKTYPE_` number (1 Ethernet, 101 raw IP). `bound_at` is
        /// when the socket was bound to its interface: a packet socket receives from every
        /// interface from its creation until then, so the frames its ring holds from before
        /// are skipped. Only until the first later one, so that a clock stepped back later
        /// cannot hide traffic.
        pub fn new(linktype: u32, bound_at: Timestamp) -> Self {
            Frames {
                decoder: CaptureDecoder::new(Limits::default()),
                linktype,
                not_before: Some(bound_at),
                skipped: 0,
                batch: Vec::with_capacity(crate::collector::BATCH),
                packets: 0,
                bytes: 0,
                last_error: None,
                published: CaptureStats::default(),
            }
        }

        /// One frame as the ring holds it; its records go to `batch`.
        #[inline]
        pub fn frame(&mut self, time: Timestamp, data: &[u8], wire_len: u32) {
            if let Some(t) = self.not_before {
                if time < t {
                    self.skipped += 1;
                    return;
                }
                self.not_before = None;
            }
            self.packets += 1;
            self.bytes += u64::from(wire_len);
            let packet = CapturedPacket {
                timestamp: time,
                linktype: self.linktype,
                data,
                original_len: wire_len,
            };
            let batch = &mut self.batch;
            if let Err(e) = self
                .decoder
                .packet(&packet, &mut |r: &FlowRecord| batch.push(r.clone()))
            {
                self.last_error = Some(e);
            }
        }

        /// Adds what was counted since the last call to the interface's counters.
        pub fn publish(&mut self, to: &CaptureCounters) {
            let now = self.decoder.stats();
            let was = std::mem::replace(&mut self.published, now);
            to.packets
                .fetch_add(std::mem::take(&mut self.packets), Ordering::Relaxed);
            to.bytes
                .fetch_add(std::mem::take(&mut self.bytes), Ordering::Relaxed);
            to.errors
                .fetch_add(now.errors - was.errors, Ordering::Relaxed);
            to.non_ip
                .fetch_add(now.non_ip - was.non_ip, Ordering::Relaxed);
            if let Some(e) = self.last_error.take() {
                to.set_last_error(e.to_string());
            }
        }
    }
}

#[cfg(feature = "capture")]
mod ring {
    use super::frames::Frames;
    use super::*;
    use crate::collector::{hand_on, BATCH, FLUSH_AFTER};
    use crate::shared::{CaptureCounters, CaptureInfo};
    use anyhow::{bail, Context};
    use netring::{Capture, FanoutFlags, FanoutMode};
    use rampart_flow::Timestamp;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    /// The kernel hands a block over when it is full or this long after its first frame, so
    /// a quiet link still reaches the detectors within a tick.
    const BLOCK_TIMEOUT_MS: u32 = 50;
    /// Fanout group ids tried before giving up (another process may hold one).
    const GROUP_TRIES: u16 = 16;

    /// One capture socket with its ring, for one thread.
    pub struct Ring {
        interface: String,
        capture: Capture,
        /// When the socket was bound to the interface (see [`Frames::new`]).
        bound_at: Timestamp,
        linktype: u32,
        counters: Arc<CaptureCounters>,
    }

    impl std::fmt::Debug for Ring {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Ring")
                .field("interface", &self.interface)
                .finish_non_exhaustive()
        }
    }

    /// Opens the rings of every configured interface, so that a missing interface or a
    /// missing privilege fails the start, naming the interface and what to do.
    pub fn open(listen: &ListenConfig, shared: &Shared) -> Result<Vec<Ring>> {
        let mut rings = Vec::new();
        for name in &listen.interfaces {
            let counters = Arc::new(CaptureCounters::default());
            let opened = open_interface(name, listen, &counters)?;
            let ring_bytes = opened.first().map_or(0, |r| r.capture.ring_len());
            let asked = listen.capture_block_bytes * listen.capture_blocks;
            tracing::info!(
                interface = %name,
                sockets = opened.len(),
                ring_bytes,
                promiscuous = listen.capture_promiscuous,
                "capturing packets"
            );
            if ring_bytes < asked {
                tracing::warn!(
                    interface = %name,
                    asked,
                    granted = ring_bytes,
                    "the kernel granted a smaller ring (memory is short)"
                );
            }
            shared.add_capture(CaptureInfo {
                interface: name.clone(),
                sockets: opened.len(),
                ring_bytes,
                promiscuous: listen.capture_promiscuous,
                counters,
            });
            rings.extend(opened);
        }
        Ok(rings)
    }

    fn open_interface(
        name: &str,
        listen: &ListenConfig,
        counters: &Arc<CaptureCounters>,
    ) -> Result<Vec<Ring>> {
        let info = netring::interface_info(name).map_err(|e| explain(name, e))?;
        let linktype = linktype(name)?;
        let sockets = listen.capture_threads;
        // Fanout group ids are shared by every process in the network namespace: start
        // from one derived from ours and move on if another group holds it.
        let seed = (std::process::id() as u16)
            .wrapping_mul(40_503)
            .wrapping_add(info.index as u16);
        let mut out = Vec::with_capacity(sockets);
        let mut tries = 0;
        while out.len() < sockets {
            let group = seed.wrapping_add(tries);
            let mut builder = Capture::builder()
                .interface(name)
                .block_size(listen.capture_block_bytes)
                .block_count(listen.capture_blocks)
                .block_timeout_ms(BLOCK_TIMEOUT_MS)
                .fill_rxhash(false)
                .promiscuous(listen.capture_promiscuous);
            if sockets > 1 {
                // ROLLOVER: a socket whose ring is full passes packets to the next one.
                builder = builder
                    .fanout(FanoutMode::Hash, group)
                    .fanout_flags(FanoutFlags::ROLLOVER);
            }
            match builder.build() {
                Ok(capture) => {
                    // Until it was bound, the socket took every interface's packets, and
                    // dropped some: those drops are not this interface's. Reading the
                    // counters resets them.
                    let _ = capture.stats();
                    out.push(Ring {
                        interface: name.to_string(),
                        capture,
                        bound_at: crate::clock::now(),
                        linktype,
                        counters: counters.clone(),
                    })
                }
                Err(netring::Error::SockOpt {
                    option: "PACKET_FANOUT",
                    ..
                }) if out.is_empty() && tries + 1 < GROUP_TRIES => tries += 1,
                Err(e) => return Err(explain(name, e)),
            }
        }
        Ok(out)
    }

    /// Errors that say what to do about them.
    fn explain(name: &str, e: netring::Error) -> anyhow::Error {
        match e {
            netring::Error::PermissionDenied => anyhow::anyhow!(
                "listen.interfaces: capturing on {name} is not permitted: run rampart serve as \
                 root, or give it CAP_NET_RAW (setcap cap_net_raw=eip /path/to/rampart)"
            ),
            netring::Error::InterfaceNotFound(_) => anyhow::anyhow!(
                "listen.interfaces: there is no interface named {name} (`ip link` lists them)"
            ),
            e => anyhow::Error::new(e).context(format!(
                "listen.interfaces: cannot open a capture ring on {name} \
                 (listen.capture_block_bytes, listen.capture_blocks)"
            )),
        }
    }

    /// The pcap link type of an interface's frames, from its ARPHRD type in sysfs.
    fn linktype(name: &str) -> Result<u32> {
        let path = format!("/sys/class/net/{name}/type");
        let text = crate::metrics::read_small(&path).with_context(|| format!("reading {path}"))?;
        let arphrd: u32 = text
            .trim()
            .parse()
            .with_context(|| format!("{path}: {text:?}"))?;
        Ok(match arphrd {
            // Ethernet, and loopback (its frames carry a zeroed Ethernet header).
            1 | 772 => 1,
            // No link header: tun devices, PPP, WireGuard.
            65534 | 512 => 101,
            other => bail!(
                "listen.interfaces: {name} has link type {other} (ARPHRD); only Ethernet, \
                 loopback and raw-IP interfaces are decoded"
            ),
        })
    }

    impl Ring {
        pub fn run(mut self, shared: &Shared, queue: &SyncSender<Input>) {
            let mut frames = Frames::new(self.linktype, self.bound_at);
            let counters = self.counters.clone();
            let (mut first_in_batch, mut last_stats) = (None::<Instant>, Instant::now());
            let hand = |frames: &mut Frames| {
                let n = frames.batch.len() as u64;
                let to = if hand_on(&mut frames.batch, queue, shared) {
                    &counters.records
                } else {
                    &counters.queue_drops
                };
                to.fetch_add(n, Ordering::Relaxed);
            };
            while !shared.stopping.load(Ordering::Relaxed) {
                match self.capture.next_batch_blocking(FLUSH_AFTER) {
                    Ok(Some(block)) => {
                        for packet in &block {
                            let ts = packet.timestamp();
                            let time = Timestamp::from_secs_nanos(u64::from(ts.sec), ts.nsec);
                            frames.frame(time, packet.data(), packet.original_len() as u32);
                            if frames.batch.len() >= BATCH {
                                hand(&mut frames);
                                first_in_batch = None;
                            }
                        }
                        if !frames.batch.is_empty() {
                            first_in_batch.get_or_insert_with(Instant::now);
                        }
                        frames.publish(&counters);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(interface = %self.interface, error = %e, "capturing");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                if first_in_batch.is_some_and(|t| t.elapsed() >= FLUSH_AFTER) {
                    hand(&mut frames);
                    first_in_batch = None;
                }
                if last_stats.elapsed() >= Duration::from_secs(1) {
                    self.kernel_drops();
                    last_stats = Instant::now();
                }
            }
            if !frames.batch.is_empty() {
                hand(&mut frames);
            }
            frames.publish(&counters);
            self.kernel_drops();
            if frames.skipped > 0 {
                tracing::info!(
                    interface = %self.interface,
                    frames = frames.skipped,
                    "skipped frames of other interfaces received before the socket was bound"
                );
            }
        }

        /// Adds the kernel's drops since the last call (reading them resets them).
        fn kernel_drops(&self) {
            match self.capture.stats() {
                Ok(s) => {
                    self.counters
                        .kernel_drops
                        .fetch_add(u64::from(s.drops), Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(interface = %self.interface, error = %e, "PACKET_STATISTICS")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::frames::Frames;
    use super::*;
    use rampart_flow::Timestamp;
    use std::sync::atomic::Ordering;

    /// Ethernet II + IPv4 + TCP SYN, 198.51.100.7:40000 -> 203.0.113.100:80 (checksums zero:
    /// flow accounting does not check them).
    fn syn() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 51, 100, 7]);
        ip[16..20].copy_from_slice(&[203, 0, 113, 100]);
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&40_000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x02;
        f
    }

    #[test]
    fn frames_become_packet_records_with_the_ring_time_and_bad_ones_are_counted() {
        let t = Timestamp::from_secs_nanos(1_795_341_600, 123_456_789);
        let mut frames = Frames::new(1, t);
        // From before the bind: another interface's; then ours, and then an earlier time
        // again (the clock stepped back) is ours too.
        frames.frame(t.saturating_sub_millis(1), &syn(), 60);
        assert_eq!((frames.skipped, frames.batch.len()), (1, 0));
        frames.frame(t, &syn(), 60);
        frames.batch.clear();
        frames.frame(t.saturating_sub_millis(5_000), &syn(), 60);
        assert_eq!((frames.skipped, frames.batch.len()), (1, 1));
        frames.batch.clear();
        frames.frame(t, &syn(), 60);
        // A truncated IPv4 header, a frame shorter than Ethernet, and ARP.
        frames.frame(t, &syn()[..24], 24);
        frames.frame(t, &[0u8; 6], 6);
        let mut arp = syn();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        frames.frame(t, &arp, 60);
        assert_eq!(frames.batch.len(), 1);
        let r = &frames.batch[0];
        assert_eq!(r.format, rampart_flow::FlowFormat::Packet);
        assert_eq!(r.start, t);
        assert_eq!(r.end, t);
        assert_eq!((r.packets, r.bytes), (1, 40));
        assert_eq!(r.dst_addr.to_string(), "203.0.113.100");
        assert_eq!((r.dst_port, r.tcp_flags), (Some(80), Some(0x02)));
        let counters = crate::shared::CaptureCounters::default();
        frames.publish(&counters);
        frames.publish(&counters);
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        assert_eq!(load(&counters.packets), 6);
        assert_eq!(load(&counters.bytes), 270);
        assert_eq!(load(&counters.errors), 2);
        assert_eq!(load(&counters.non_ip), 1);
    }

    #[test]
    fn a_missing_interface_or_feature_fails_the_start_naming_it() {
        let listen = ListenConfig {
            interfaces: vec!["rampart-none0".into()],
            ..ListenConfig::default()
        };
        let shared = Shared::new(Timestamp::EPOCH, 16, crate::prefixes::PrefixSet::new(&[]));
        let e = format!("{:#}", open(&listen, &shared).unwrap_err());
        assert!(e.contains("listen.interfaces"), "{e}");
        assert!(e.contains("rampart-none0"), "{e}");
        if cfg!(feature = "capture") {
            assert!(e.contains("no interface named"), "{e}");
        } else {
            assert!(e.contains("built without the capture feature"), "{e}");
        }
        assert!(open(&ListenConfig::default(), &shared).unwrap().is_empty());
    }
}
