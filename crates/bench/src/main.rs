//! The floors the bench measures importgate against, with the same libraries importgate uses,
//! on one core: `inflate FILE...` inflates gzip blobs (flate2 over zlib-rs, as the layer
//! reader does) into nothing; `hash FILE...` reads files once and takes their sha256 (what
//! reading a `docker save` archive cannot avoid). Each prints the bytes it produced or read.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::process::ExitCode;

use sha2::{Digest, Sha256};

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, files)) = args.split_first() else {
        eprintln!("usage: importgate-bench-ref inflate|hash FILE...");
        return ExitCode::from(2);
    };
    let mut total = 0u64;
    for f in files {
        let result = File::open(f).and_then(|file| {
            let reader = BufReader::with_capacity(1 << 20, file);
            match mode.as_str() {
                "inflate" => io::copy(
                    &mut flate2::read::MultiGzDecoder::new(reader),
                    &mut io::sink(),
                ),
                "hash" => hash(reader),
                other => Err(io::Error::other(format!("unknown mode `{other}`"))),
            }
        });
        match result {
            Ok(n) => total += n,
            Err(e) => {
                eprintln!("error: {f}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{total}");
    ExitCode::SUCCESS
}

fn hash(mut reader: impl Read) -> io::Result<u64> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = reader.read(&mut buf)?;
        if got == 0 {
            break;
        }
        hasher.update(&buf[..got]);
        n += got as u64;
    }
    let _ = hasher.finalize();
    Ok(n)
}
