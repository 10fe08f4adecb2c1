//! A UDP sink for replay benchmarks: counts the datagrams and bytes it receives on an
//! address, and prints the totals once nothing has come for a second (after the first).
//! `cargo run --release -p rampart --example udp_sink -- 127.0.0.1:9995`

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9995".to_string());
    let socket = UdpSocket::bind(&addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(1)))?;
    eprintln!("udp_sink: listening on {addr}");
    let mut buf = vec![0u8; 65_536];
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => {
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
                datagrams += 1;
                bytes += n as u64;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if first.is_some() {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!("udp_sink: {datagrams} datagrams, {bytes} bytes in {secs:.3} s");
    Ok(())
}
