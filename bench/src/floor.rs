//! The floor of the end-to-end job on this machine: the same file and threads,
//! each line split off, parsed into a `serde_json::Value` and answered with one
//! short fixed line, nothing decided. What reading and writing alone cost is the
//! limit the pipeline is measured against (`e2e_batch`'s `limit`).

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crm_rules::pipeline::{on_threads, split_evenly};

/// How much of the file one round reads before splitting it across threads: the
/// pipeline's own chunk size, so both hold the same memory.
const CHUNK_BYTES: usize = 16 << 20;

/// The answer written for every record.
const LINE: &[u8] = b"{\"id\":\"x\",\"outcome\":\"ok\"}\n";

/// Times the floor job over `file` on `threads` threads, into `sink`.
pub fn time(file: &Path, threads: usize, sink: &mut impl Write) -> Duration {
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).expect("input"));
    let start = Instant::now();
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + (1 << 16));
    loop {
        chunk.clear();
        (&mut reader)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut chunk)
            .expect("read");
        if chunk.is_empty() {
            break;
        }
        // Finish the last line of the chunk, so no record is cut in two.
        reader.read_until(b'\n', &mut chunk).expect("read");
        let lines: Vec<&[u8]> = chunk
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .collect();
        let parts: Vec<&[&[u8]]> = split_evenly(&lines, threads).collect();
        let outputs = on_threads(&parts, |part| {
            let mut out = Vec::with_capacity(part.len() * LINE.len());
            for line in part.iter() {
                let value: serde_json::Value = serde_json::from_slice(line).expect("a JSON record");
                std::hint::black_box(&value);
                out.extend_from_slice(LINE);
            }
            out
        });
        for out in outputs {
            sink.write_all(&out.expect("a floor thread"))
                .expect("write");
        }
    }
    sink.flush().expect("flush");
    start.elapsed()
}
