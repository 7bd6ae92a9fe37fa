//! The client side: [`RemoteSource`], a producer whose events come from
//! the daemon.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use inetmon_core::event::Source;
use inetmon_core::protocol::{
    self, FrameError, FrameType, RefusalCode, Request, Welcome, PROTOCOL_VERSION,
};

use super::hub::{read_frame, ReadError};
use crate::fdwait::wait_either_ms;
use crate::pipeline::Pipeline;
use crate::shutdown::Shutdown;

/// How long the client waits for the daemon's answer to its hello (the
/// daemon admits clients between events, at least every 100 ms).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why watching through the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (no daemon, or a stale socket).
    #[error("{path}: no inetmon daemon answers", path = .path.display())]
    NoDaemon {
        /// The socket.
        path: PathBuf,
        /// The connect error.
        #[source]
        source: io::Error,
    },
    /// The socket's permissions do not let this user connect.
    #[error("{path}: permission denied: only root and members of group {group} may watch through the daemon", path = .path.display(), group = super::GROUP)]
    Permission {
        /// The socket.
        path: PathBuf,
    },
    /// The daemon refused this client, saying why.
    #[error("the daemon refused: {text}")]
    Refused {
        /// Why, as a code.
        code: RefusalCode,
        /// Why, in one line.
        text: String,
    },
    /// The daemon speaks another protocol version.
    #[error("{0}")]
    Version(String),
    /// The daemon sent something that is not the protocol.
    #[error("bad frame from the daemon: {0}")]
    Frame(#[from] FrameError),
    /// The daemon went away.
    #[error("the daemon closed the connection")]
    Closed,
    /// Another I/O error on the connection.
    #[error("daemon connection")]
    Io(#[source] io::Error),
}

impl From<ReadError> for ClientError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Closed | ReadError::Truncated => ClientError::Closed,
            ReadError::Io(e) => ClientError::Io(e),
            ReadError::Frame(e) => ClientError::Frame(e),
        }
    }
}

/// A connection to the daemon whose hello was welcomed: from the welcome
/// on, every event the daemon collects that matches the request comes
/// (or is counted in a `Lost` event).
#[derive(Debug)]
pub struct RemoteSource {
    stream: UnixStream,
    welcome: Welcome,
}

impl RemoteSource {
    /// Connects to the daemon at `path` and asks for `req`.
    ///
    /// # Errors
    /// [`ClientError`]: no daemon, no permission, a refusal (another
    /// version, something the daemon does not collect), a broken answer.
    pub fn connect(path: &Path, req: &Request) -> Result<RemoteSource, ClientError> {
        Self::connect_as(path, req, PROTOCOL_VERSION)
    }

    /// [`RemoteSource::connect`] speaking protocol `version` (tests of the
    /// version check).
    ///
    /// # Errors
    /// As for [`RemoteSource::connect`].
    pub fn connect_as(
        path: &Path,
        req: &Request,
        version: u16,
    ) -> Result<RemoteSource, ClientError> {
        let mut stream = UnixStream::connect(path).map_err(|source| {
            if source.kind() == io::ErrorKind::PermissionDenied {
                ClientError::Permission {
                    path: path.to_owned(),
                }
            } else {
                ClientError::NoDaemon {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let mut hello = Vec::new();
        protocol::encode_hello(version, req, &mut hello);
        // The daemon may refuse before reading the hello (a peer it does
        // not allow): its answer says more than a failed write would.
        let wrote = io::Write::write_all(&mut stream, &hello);
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(ClientError::Io)?;
        let mut body = Vec::new();
        let answer = read_frame(&mut stream, &mut body);
        if let (Err(e), Err(ReadError::Closed | ReadError::Truncated)) = (&wrote, &answer) {
            return Err(ClientError::Io(io::Error::new(e.kind(), e.to_string())));
        }
        match answer? {
            FrameType::Welcome => {
                let (v, welcome) = protocol::decode_welcome(&body)?;
                let Some(welcome) = welcome else {
                    return Err(ClientError::Version(protocol::version_mismatch(
                        PROTOCOL_VERSION,
                        v,
                    )));
                };
                stream.set_read_timeout(None).map_err(ClientError::Io)?;
                Ok(RemoteSource { stream, welcome })
            }
            FrameType::Refused => {
                let (code, text) = protocol::decode_refused(&body)?;
                if code == RefusalCode::Version {
                    return Err(ClientError::Version(text));
                }
                Err(ClientError::Refused { code, text })
            }
            other => Err(FrameError::Unexpected {
                expected: "welcome",
                got: other,
            }
            .into()),
        }
    }

    /// What the daemon said when it took this client.
    #[must_use]
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Reads the daemon's events on a thread of its own into `pipeline`
    /// until `shutdown` or until the daemon goes away (an error: the run
    /// is incomplete) or, after a reload, says it no longer collects what
    /// was asked ([`ClientError::Refused`]). Events wait for room in the pipeline rather than
    /// being dropped here: a client that cannot keep up fills its queue in
    /// the daemon, which drops and reports there.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> io::Result<JoinHandle<Result<(), ClientError>>> {
        let mut producer = pipeline.producer(Source::Pipeline);
        let mut stream = self.stream;
        stream.set_nonblocking(true)?;
        std::thread::Builder::new()
            .name("inetmon-remote".into())
            .spawn(move || {
                let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
                let mut start = 0;
                let mut chunk = vec![0u8; 128 * 1024];
                let wake = shutdown.waker().as_raw_fd();
                loop {
                    if shutdown.is_set() {
                        return Ok(());
                    }
                    wait_either_ms(stream.as_fd(), Some(wake), 250).map_err(ClientError::Io)?;
                    let n = match stream.read(&mut chunk) {
                        Ok(0) => return Err(ClientError::Closed),
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(ClientError::Io(e)),
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some((frame, used)) = protocol::decode_frame(&buf[start..])? {
                        if frame.kind == FrameType::Refused {
                            // The daemon reloaded and no longer collects
                            // what this client asked for.
                            let (code, text) = protocol::decode_refused(frame.body)?;
                            return Err(ClientError::Refused { code, text });
                        }
                        if frame.kind != FrameType::Event {
                            return Err(FrameError::Unexpected {
                                expected: "event",
                                got: frame.kind,
                            }
                            .into());
                        }
                        let ev = protocol::decode_event(frame.body)?;
                        if producer.send_blocking(ev).is_err() {
                            return Ok(());
                        }
                        start += used;
                    }
                    buf.drain(..start);
                    start = 0;
                }
            })
    }
}
