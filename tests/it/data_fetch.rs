//! `gpunn::data::fetch`: downloading and verifying datasets.
//!
//! Downloads run against a tiny HTTP/1.1 server on 127.0.0.1 (below) that serves fixed bytes
//! with a chosen misbehaviour, so no test touches the network. The files served are fake IDX
//! files written with `idx::write_images` / `write_labels`, and the spec that describes them
//! is built here with their sums. When Debian's `dataset-fashion-mnist` is installed, one test
//! also serves the real Fashion-MNIST and checks the built-in sums against it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gpunn::data::fetch::{self, DatasetSpec, FetchOptions, FileSpec, Outcome};
use gpunn::data::{idx, mnist};
use gpunn::Error;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Helpers: a temp dir, a local HTTP server, fake datasets
// ---------------------------------------------------------------------------------------------

/// A fresh, empty directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        // Tests run in parallel and some share a tag (fake_dataset): make each dir unique.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("gpunn-fetch-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the server answers a path.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// 200 with the bytes.
    Ok,
    /// 200 with as many bytes, one of them changed.
    Corrupt,
    /// 200 announcing the full Content-Length, then the connection closes halfway through.
    Truncated,
    /// 404 (also what an unknown path gets).
    NotFound,
}

/// The most connections one server accepts before its thread ends, so a test that goes wrong
/// cannot leave a thread serving forever.
const MAX_CONNECTIONS: usize = 64;

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1, in a thread. It counts the
/// requests per path and stops when dropped (or after [`MAX_CONNECTIONS`]).
struct Server {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(routes: HashMap<String, (Vec<u8>, Behaviour)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (hits, stop) = (hits.clone(), stop.clone());
            std::thread::spawn(move || {
                for _ in 0..MAX_CONNECTIONS {
                    let Ok((stream, _)) = listener.accept() else {
                        break;
                    };
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // A broken connection is the client's business; keep serving.
                    let _ = serve(stream, &routes, &hits);
                }
            })
        };
        Server {
            addr,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    /// The base URL of a mirror under `prefix` (e.g. `/a/`).
    fn mirror(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    routes: &HashMap<String, (Vec<u8>, Behaviour)>,
    hits: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    // Read the request head: "GET /path HTTP/1.1", headers, blank line.
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    *hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;

    let (body, behaviour) = match routes.get(&path) {
        Some((b, how)) => (b.as_slice(), *how),
        None => (&b""[..], Behaviour::NotFound),
    };
    let head = |status: &str, len: usize| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    match behaviour {
        Behaviour::Ok => {
            stream.write_all(head("200 OK", body.len()).as_bytes())?;
            stream.write_all(body)?;
        }
        Behaviour::Corrupt => {
            let mut bad = body.to_vec();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x5a;
            stream.write_all(head("200 OK", bad.len()).as_bytes())?;
            stream.write_all(&bad)?;
        }
        Behaviour::Truncated => {
            stream.write_all(head("200 OK", body.len()).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
        }
        Behaviour::NotFound => {
            let msg = b"not found";
            stream.write_all(head("404 Not Found", msg.len()).as_bytes())?;
            stream.write_all(msg)?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The four files of a fake dataset: 6 training and 3 test images of 2x3 pixels.
struct Fake {
    /// (file name, bytes), in the spec's order.
    files: Vec<(String, Vec<u8>)>,
    spec: DatasetSpec,
}

const TRAIN_LABELS: [u8; 6] = [3, 1, 4, 1, 5, 9];
const TEST_LABELS: [u8; 3] = [2, 6, 5];

fn fake_dataset() -> Fake {
    let tmp = TempDir::new("fake-source");
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let pixels = |n: usize, seed: u8| -> Vec<u8> {
        (0..n * 6)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
            .collect()
    };
    idx::write_images(&tmp.join(names[0]), 2, 3, &pixels(6, 1)).unwrap();
    idx::write_labels(&tmp.join(names[1]), &TRAIN_LABELS).unwrap();
    idx::write_images(&tmp.join(names[2]), 2, 3, &pixels(3, 2)).unwrap();
    idx::write_labels(&tmp.join(names[3]), &TEST_LABELS).unwrap();
    let files: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.to_string(), std::fs::read(tmp.join(n)).unwrap()))
        .collect();
    let spec_file = |i: usize| FileSpec::new(files[i].0.clone(), sha256_hex(&files[i].1));
    let spec = DatasetSpec {
        name: "fake".into(),
        mirrors: vec!["http://127.0.0.1:9/never-used/".into()],
        files: [spec_file(0), spec_file(1), spec_file(2), spec_file(3)],
    };
    Fake { files, spec }
}

/// Routes serving every file of `fake` under `prefix`, all with `how`.
fn routes(fake: &Fake, prefix: &str, how: Behaviour) -> HashMap<String, (Vec<u8>, Behaviour)> {
    fake.files
        .iter()
        .map(|(name, bytes)| (format!("{prefix}{name}"), (bytes.clone(), how)))
        .collect()
}

fn opts(mirrors: &[String]) -> FetchOptions {
    FetchOptions {
        mirrors: Some(mirrors.to_vec()),
        progress: false,
        timeout: Some(Duration::from_secs(10)),
    }
}

/// No file in `dir` is named `name`, and no partial download of it (`name.*.part`) is left.
#[track_caller]
fn assert_absent(dir: &Path, name: &str) {
    assert!(!dir.join(name).exists(), "{name} must not exist");
    let parts = part_files(dir);
    assert!(
        !parts.iter().any(|p| p.starts_with(name)),
        "left behind: {parts:?}"
    );
}

/// The `.part` files in `dir`.
fn part_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Downloads
// ---------------------------------------------------------------------------------------------

#[test]
fn fetch_downloads_verifies_and_the_files_load() {
    let fake = fake_dataset();
    let server = Server::start(routes(&fake, "/a/", Behaviour::Ok));
    let dest = TempDir::new("ok");
    let out = dest.join("fake");
    let report = fetch::fetch_report(&fake.spec, &out, &opts(&[server.mirror("/a/")])).unwrap();
    assert!(
        report.iter().all(|(_, o)| *o == Outcome::Downloaded),
        "{report:?}"
    );
    for (name, bytes) in &fake.files {
        assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{name}");
        assert_eq!(server.hits(&format!("/a/{name}")), 1, "{name}");
    }
    assert_eq!(part_files(&out), Vec::<String>::new());
    let (train, test) = idx::load_dir(&out, "fake").unwrap();
    assert_eq!((train.len(), train.dim), (6, 6));
    assert_eq!(train.labels, TRAIN_LABELS.map(u32::from));
    assert_eq!(test.labels, TEST_LABELS.map(u32::from));
    // `fetch` returns the destination.
    assert_eq!(
        fetch::fetch(&fake.spec, &out, &opts(&[server.mirror("/a/")])).unwrap(),
        out
    );
}

#[test]
fn fetch_checksum_mismatch_names_file_and_sums_and_leaves_no_file() {
    let fake = fake_dataset();
    let mut r = routes(&fake, "/a/", Behaviour::Ok);
    let name = "train-labels-idx1-ubyte.gz";
    r.get_mut(&format!("/a/{name}")).unwrap().1 = Behaviour::Corrupt;
    let server = Server::start(r);
    let dest = TempDir::new("corrupt");
    let err = fetch::fetch(&fake.spec, dest.path(), &opts(&[server.mirror("/a/")])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    let mut corrupt = fake.files[1].1.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x5a;
    for want in [
        "checksum",
        "SHA-256",
        name,
        &fake.spec.files[1].sha256,
        &sha256_hex(&corrupt),
    ] {
        assert!(msg.contains(want), "message lacks {want:?}: {msg}");
    }
    assert_absent(dest.path(), name);
    // The file before it verified and stays; the ones after it were never fetched.
    assert!(dest.join("train-images-idx3-ubyte.gz").is_file());
    assert_absent(dest.path(), "t10k-images-idx3-ubyte.gz");
    assert_eq!(server.hits("/a/t10k-images-idx3-ubyte.gz"), 0);
}

#[test]
fn fetch_interrupted_download_is_an_error_and_leaves_no_file() {
    let fake = fake_dataset();
    let mut r = routes(&fake, "/a/", Behaviour::Ok);
    let name = "train-images-idx3-ubyte.gz";
    r.get_mut(&format!("/a/{name}")).unwrap().1 = Behaviour::Truncated;
    let server = Server::start(r);
    let dest = TempDir::new("truncated");
    let err = fetch::fetch(&fake.spec, dest.path(), &opts(&[server.mirror("/a/")])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert!(msg.contains("interrupted"), "{msg}");
    assert!(msg.contains(name), "{msg}");
    assert_absent(dest.path(), name);
    assert_eq!(server.hits(&format!("/a/{name}")), 1);
}

#[test]
fn fetch_falls_back_to_the_second_mirror_after_a_404() {
    let fake = fake_dataset();
    // Nothing under /a/: every request there is a 404.
    let server = Server::start(routes(&fake, "/b/", Behaviour::Ok));
    let dest = TempDir::new("fallback");
    let mirrors = [server.mirror("/a/"), server.mirror("/b/")];
    fetch::fetch(&fake.spec, dest.path(), &opts(&mirrors)).unwrap();
    for (name, bytes) in &fake.files {
        assert_eq!(&std::fs::read(dest.join(name)).unwrap(), bytes);
        assert_eq!(
            server.hits(&format!("/a/{name}")),
            1,
            "{name} tried on /a/ first"
        );
        assert_eq!(server.hits(&format!("/b/{name}")), 1, "{name} then on /b/");
    }
}

#[test]
fn fetch_falls_back_after_a_corrupt_or_cut_mirror() {
    let fake = fake_dataset();
    let mut r = routes(&fake, "/a/", Behaviour::Corrupt);
    r.extend(routes(&fake, "/b/", Behaviour::Truncated));
    r.extend(routes(&fake, "/c/", Behaviour::Ok));
    let server = Server::start(r);
    let dest = TempDir::new("fallback-bad");
    let mirrors = [
        server.mirror("/a/"),
        server.mirror("/b/"),
        server.mirror("/c/"),
    ];
    fetch::fetch(&fake.spec, dest.path(), &opts(&mirrors)).unwrap();
    let (train, _) = idx::load_dir(dest.path(), "fake").unwrap();
    assert_eq!(train.len(), 6);
}

#[test]
fn fetch_lists_every_mirror_when_all_fail() {
    let fake = fake_dataset();
    let mut r = routes(&fake, "/b/", Behaviour::Corrupt);
    r.extend(routes(&fake, "/c/", Behaviour::Truncated));
    let server = Server::start(r);
    let dest = TempDir::new("all-fail");
    let mirrors = [
        server.mirror("/a/"),
        server.mirror("/b/"),
        server.mirror("/c/"),
    ];
    let msg = fetch::fetch(&fake.spec, dest.path(), &opts(&mirrors))
        .unwrap_err()
        .to_string();
    let first = &fake.files[0].0;
    for m in &mirrors {
        assert!(msg.contains(&format!("{m}{first}")), "lacks {m}: {msg}");
    }
    for want in ["every mirror failed", "404", "checksum", "interrupted"] {
        assert!(msg.contains(want), "lacks {want:?}: {msg}");
    }
    assert_absent(dest.path(), first);
}

#[test]
fn fetch_does_not_download_verified_files_again_and_replaces_bad_ones() {
    let fake = fake_dataset();
    let server = Server::start(routes(&fake, "/a/", Behaviour::Ok));
    let dest = TempDir::new("again");
    let o = opts(&[server.mirror("/a/")]);
    fetch::fetch(&fake.spec, dest.path(), &o).unwrap();
    assert_eq!(server.total_hits(), 4);

    let report = fetch::fetch_report(&fake.spec, dest.path(), &o).unwrap();
    assert!(
        report.iter().all(|(_, o)| *o == Outcome::AlreadyPresent),
        "{report:?}"
    );
    assert_eq!(server.total_hits(), 4, "nothing is downloaded twice");

    // A file with the final name but the wrong contents is fetched again.
    let (name, bytes) = &fake.files[3];
    std::fs::write(dest.join(name), b"not the labels").unwrap();
    let report = fetch::fetch_report(&fake.spec, dest.path(), &o).unwrap();
    assert_eq!(report[3], (name.clone(), Outcome::Downloaded));
    assert_eq!(server.total_hits(), 5);
    assert_eq!(&std::fs::read(dest.join(name)).unwrap(), bytes);
}

#[test]
fn fetch_refuses_an_empty_mirror_list() {
    let fake = fake_dataset();
    let dest = TempDir::new("no-mirror");
    let msg = fetch::fetch(&fake.spec, dest.path(), &opts(&[]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no mirror"), "{msg}");
}

#[test]
fn builtin_specs_are_well_formed() {
    for name in fetch::FETCHABLE {
        let s = fetch::spec(name).unwrap();
        assert_eq!(s.name, name);
        assert!(s.mirrors.len() >= 2, "{name}");
        assert!(s.mirrors.iter().all(|m| m.ends_with('/')), "{name}");
        let stems = [
            idx::TRAIN_IMAGES,
            idx::TRAIN_LABELS,
            idx::TEST_IMAGES,
            idx::TEST_LABELS,
        ];
        for (f, stem) in s.files.iter().zip(stems) {
            assert_eq!(f.name, format!("{stem}.gz"));
            assert_eq!(f.sha256.len(), 64, "{}", f.name);
            assert!(f
                .sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }
    let msg = fetch::spec("cifar10").unwrap_err().to_string();
    assert!(
        msg.contains("data fetch") && msg.contains("cifar10"),
        "{msg}"
    );
    assert!(fetch::default_dest("mnist").ends_with("gpunn/mnist"));
}

/// Debian's `dataset-fashion-mnist` ships Zalando's deflate streams under a normalised gzip
/// header (no file name, a 2020 mtime). Restoring the original header must give files with
/// the built-in sums, and fetching those from a local mirror must give the real data set.
#[test]
fn fashion_mnist_sums_match_debians_files_with_the_original_headers() {
    let debian = Path::new("/usr/share/datasets/fashion-mnist");
    if mnist::missing_files(debian).len() == 4 {
        eprintln!("skipped: Debian's dataset-fashion-mnist is not installed");
        return;
    }
    // Debian's directory is one of the places searched, so the name resolves.
    let found = mnist::locate("fashion-mnist").unwrap();
    assert!(found == debian || mnist::candidates("fashion-mnist").contains(&found));
    let spec = fetch::spec("fashion-mnist").unwrap();
    // Upstream's gzip mtimes: the train files at 2017-08-31 10:50:06 UTC, the test files 21 s later.
    let mtime = |name: &str| {
        if name.starts_with("train") {
            1_504_176_606u32
        } else {
            1_504_176_627
        }
    };
    let mut r = HashMap::new();
    for f in &spec.files {
        let deb = std::fs::read(debian.join(&f.name)).unwrap();
        assert_eq!(
            &deb[..4],
            &[0x1f, 0x8b, 8, 0],
            "{}: Debian's header has no FNAME",
            f.name
        );
        let mut orig = vec![0x1f, 0x8b, 8, 0x08]; // deflate, FNAME
        orig.extend_from_slice(&mtime(&f.name).to_le_bytes());
        orig.extend_from_slice(&deb[8..10]); // XFL, OS
        orig.extend_from_slice(f.name.trim_end_matches(".gz").as_bytes());
        orig.push(0);
        orig.extend_from_slice(&deb[10..]);
        assert_eq!(sha256_hex(&orig), f.sha256, "{}", f.name);
        r.insert(format!("/fm/{}", f.name), (orig, Behaviour::Ok));
    }
    let server = Server::start(r);
    let dest = TempDir::new("fashion");
    fetch::fetch(spec, dest.path(), &opts(&[server.mirror("/fm/")])).unwrap();
    let (train, test) = idx::load_dir(dest.path(), "fashion-mnist").unwrap();
    assert_eq!(
        (train.len(), test.len(), train.dim, train.classes),
        (60000, 10000, 784, 10)
    );
    // Same pixels and labels as Debian's files.
    let (dtrain, dtest) = idx::load_dir(debian, "fashion-mnist").unwrap();
    assert!(train == dtrain && test == dtest);
}
