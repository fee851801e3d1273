//! Downloading one file from a list of mirrors: streamed to a `.part` file with a progress
//! bar, size and SHA-256 checked, then synced and renamed into place.

use super::*;

/// One agent that honours the proxy environment variables and one that never uses a proxy,
/// for loopback mirrors (a local mirror must not be sent through `HTTP_PROXY`).
pub(super) struct Agents {
    proxied: ureq::Agent,
    direct: ureq::Agent,
}

impl Agents {
    pub(super) fn new(timeout: Option<Duration>) -> Self {
        let build = |proxy: Option<ureq::Proxy>| -> ureq::Agent {
            ureq::Agent::config_builder()
                .proxy(proxy)
                .timeout_connect(timeout)
                .timeout_recv_response(timeout)
                .timeout_per_read(timeout)
                .user_agent(concat!("gpunn/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        Agents {
            proxied: build(ureq::Proxy::try_from_env()),
            direct: build(None),
        }
    }

    fn for_url(&self, url: &str) -> &ureq::Agent {
        let host = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let loopback = host.starts_with("127.")
            || host.starts_with("[::1]")
            || host == "localhost"
            || host.starts_with("localhost:");
        if loopback {
            &self.direct
        } else {
            &self.proxied
        }
    }
}

/// Why one mirror failed for one file: worth trying the next mirror.
pub(super) struct MirrorFailure(String);

/// Tries each mirror in turn for `file`; on success `dest/<name>` holds the verified file.
pub(super) fn download_file(
    agents: &Agents,
    mirrors: &[String],
    file: &FileSpec,
    dest: &Path,
    progress: bool,
) -> Result<()> {
    let mut failures = Vec::new();
    let mut last_url = String::new();
    for base in mirrors {
        let url = join_url(base, &file.name);
        match try_mirror(agents.for_url(&url), &url, file, dest, progress)? {
            Ok(()) => return Ok(()),
            Err(MirrorFailure(why)) => {
                log::warn!("{url}: {why}");
                failures.push(format!("{url}: {why}"));
                last_url = url;
            }
        }
    }
    if failures.len() == 1 {
        let msg = failures.pop().unwrap_or_default();
        let msg = msg
            .strip_prefix(&format!("{last_url}: "))
            .unwrap_or(&msg)
            .to_string();
        return Err(Error::Download { url: last_url, msg });
    }
    Err(Error::Download {
        url: file.name.clone(),
        msg: format!("every mirror failed:\n  {}", failures.join("\n  ")),
    })
}

pub(super) fn join_url(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// Downloads `url` into `dest/<name>.part`, verifies it and renames it to `dest/<name>`.
/// The outer error is local and fatal (the disk); the inner one is the mirror's fault.
pub(super) fn try_mirror(
    agent: &ureq::Agent,
    url: &str,
    file: &FileSpec,
    dest: &Path,
    progress: bool,
) -> Result<Result<(), MirrorFailure>> {
    let fail = |msg: String| Ok(Err(MirrorFailure(msg)));
    // identity: a server that would gzip the response on the fly must send the file's own
    // bytes, since the sum is of the .gz file itself.
    let resp = match agent.get(url).header("Accept-Encoding", "identity").call() {
        Ok(r) => r,
        Err(ureq::Error::StatusCode(code)) => return fail(format!("HTTP status {code}")),
        Err(e) => return fail(e.to_string()),
    };
    let body = resp.into_body();
    let expected_len = body.content_length();
    if let Some(len) = expected_len.filter(|&l| l > MAX_FILE_BYTES) {
        return fail(format!(
            "the server announces {len} bytes, more than the {MAX_FILE_BYTES} accepted for {}",
            file.name
        ));
    }
    // The process id keeps two concurrent fetches into one directory from writing one file.
    let part = dest.join(format!("{}.{}.part", file.name, std::process::id()));
    let mut out = File::create(&part).map_err(|e| Error::io(&part, e))?;
    // From here on, any failure removes the .part file.
    let result = stream(
        body.into_reader(),
        &mut out,
        &part,
        &file.name,
        expected_len,
        progress,
    );
    let verdict = match result {
        Ok(Ok(received)) => check(file, &received, expected_len),
        Ok(Err(f)) => Err(f),
        Err(e) => {
            drop(out);
            let _ = fs::remove_file(&part);
            return Err(e);
        }
    };
    if let Err(f) = verdict {
        drop(out);
        let _ = fs::remove_file(&part);
        return Ok(Err(f));
    }
    let final_path = dest.join(&file.name);
    let finish = out
        .sync_all()
        .and_then(|()| {
            drop(out);
            fs::rename(&part, &final_path)
        })
        .map_err(|e| Error::io(&final_path, e));
    if let Err(e) = finish {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    crate::io::sync_dir(dest);
    Ok(Ok(()))
}

/// What [`stream`] received.
pub(super) struct Received {
    bytes: u64,
    sha256: [u8; 32],
    /// The first two bytes, to tell a gzip file from an error page.
    magic: [u8; 2],
}

/// Checks the byte count and the sum of a complete download.
pub(super) fn check(
    file: &FileSpec,
    received: &Received,
    expected_len: Option<u64>,
) -> std::result::Result<(), MirrorFailure> {
    let got = received.bytes;
    if let Some(len) = expected_len.filter(|&l| l != got) {
        return Err(MirrorFailure(format!(
            "interrupted: received {got} of {len} bytes of {}",
            file.name
        )));
    }
    let actual = hex(&received.sha256);
    if actual.eq_ignore_ascii_case(&file.sha256) {
        return Ok(());
    }
    // Not a gzip file: most likely an HTML error page, or a body the server compressed on
    // the fly and the client decompressed.
    let hint = if file.name.ends_with(".gz") && received.magic != [0x1f, 0x8b] {
        "; the response is not a gzip file (no 1f 8b at its start)"
    } else {
        ""
    };
    Err(MirrorFailure(format!(
        "checksum mismatch for {}: expected SHA-256 {}, got {actual} ({got} bytes){hint}",
        file.name, file.sha256
    )))
}

/// Copies `body` into `out` while hashing it, with a progress bar. A read failure is the
/// mirror's (inner error), a write failure ours (outer).
pub(super) fn stream(
    mut body: impl Read,
    out: &mut File,
    part: &Path,
    name: &str,
    expected_len: Option<u64>,
    progress: bool,
) -> Result<std::result::Result<Received, MirrorFailure>> {
    let bar = crate::io::progress_bar(name, expected_len, progress);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut got: u64 = 0;
    let mut magic = [0u8; 2];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.abandon();
                let of = expected_len.map_or(String::new(), |l| format!(" of {l}"));
                return Ok(Err(MirrorFailure(format!(
                    "interrupted after {got}{of} bytes of {name}: {e}"
                ))));
            }
        };
        for (i, &b) in buf[..n]
            .iter()
            .enumerate()
            .take(2usize.saturating_sub(got as usize))
        {
            magic[got as usize + i] = b;
        }
        got += n as u64;
        if got > MAX_FILE_BYTES {
            bar.abandon();
            return Ok(Err(MirrorFailure(format!(
                "more than {MAX_FILE_BYTES} bytes for {name}; refusing the rest"
            ))));
        }
        hasher.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]) {
            bar.abandon();
            return Err(Error::io(part, e));
        }
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(Ok(Received {
        bytes: got,
        sha256: hasher.finalize().into(),
        magic,
    }))
}
