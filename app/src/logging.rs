//! Logs: one JSON object per line on stdout (or pretty text), written through a shared buffer.
//!
//! Writing each line straight to stdout costs a syscall per request and wakes the log reader
//! each time; a background writer thread (tracing-appender) costs a futex wake per line
//! instead. At tens of thousands of requests per second either one is most of the logging cost
//! (measured in docs/PERFORMANCE.md). So, as nginx does with `access_log ... buffer= flush=`,
//! lines go into one 64 KiB buffer that is written out when it fills, at least every
//! [`FLUSH_EVERY`] by a small flusher thread, and when the [`LogGuard`] is dropped at exit.
//!
//! A line is copied into the buffer whole, under the lock, so lines from concurrent requests never
//! interleave. Output is delayed by at most [`FLUSH_EVERY`]. On ECS the awslogs driver runs in
//! `non-blocking` mode (infra/modules/ecs-service), so a slow log backend never stalls the pipe
//! this buffer is written to.

use std::io::{BufWriter, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::LogFormat;

/// The longest a log line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
const BUFFER_BYTES: usize = 64 * 1024;

/// The buffer in front of a writer, shared by every thread that logs. As a tracing-subscriber
/// writer it is locked once per event, and the formatted line goes in with one `write_all`.
pub struct SharedBuffer<W: Write>(Arc<Mutex<BufWriter<W>>>);

impl<W: Write> Clone for SharedBuffer<W> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<W: Write> SharedBuffer<W> {
    /// Lock for one write; a panic elsewhere while logging does not stop logging here.
    pub fn lock(&self) -> BufferLock<'_, W> {
        BufferLock(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The buffer, locked: what one log event is written to.
pub struct BufferLock<'a, W: Write>(MutexGuard<'a, BufWriter<W>>);

impl<W: Write> Write for BufferLock<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for SharedBuffer<W> {
    type Writer = BufferLock<'a, W>;
    fn make_writer(&'a self) -> Self::Writer {
        self.lock()
    }
}

/// Flushes the buffer when dropped (stops the flusher thread, then writes what is left).
#[must_use = "logs still in the buffer are lost if the guard is dropped early"]
pub struct LogGuard<W: Write> {
    buffer: SharedBuffer<W>,
    stop: Option<mpsc::Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

impl<W: Write> Drop for LogGuard<W> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        let _ = self.buffer.lock().flush();
    }
}

/// `writer` behind a 64 KiB buffer, flushed every `every` and when the guard drops.
pub fn buffered<W: Write + Send + 'static>(writer: W, every: Duration) -> (SharedBuffer<W>, LogGuard<W>) {
    let buffer = SharedBuffer(Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER_BYTES, writer))));
    let (stop, stopped) = mpsc::channel::<()>();
    let shared = buffer.clone();
    let flusher = std::thread::Builder::new().name("log-flush".into()).spawn(move || {
        // Nothing is ever sent: a timeout means "flush now", a disconnect means the guard is
        // dropping (it writes what is left itself).
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            let _ = shared.lock().flush();
        }
    });
    // Without the thread (it could not be spawned), lines are still written when the buffer fills
    // and when the guard drops; they just wait longer.
    let flusher = flusher.ok();
    (buffer.clone(), LogGuard { buffer, stop: Some(stop), flusher })
}

/// Install the global subscriber writing to stdout. Keep the guard until exit.
pub fn init(format: LogFormat, filter: &str) -> LogGuard<std::io::Stdout> {
    let (writer, guard) = buffered(std::io::stdout(), FLUSH_EVERY);
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Json => json_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).pretty().init(),
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose contents the test can read while the buffer still owns it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_wait_in_the_buffer_until_the_flusher_runs() {
        let sink = Sink::default();
        let (buffer, guard) = buffered(sink.clone(), Duration::from_millis(50));
        buffer.lock().write_all(b"{\"a\":1}\n").unwrap();
        assert_eq!(sink.text(), "", "a line is buffered, not written at once");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.text().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sink.text(), "{\"a\":1}\n", "the flusher writes it out");
        drop(guard);
    }

    #[test]
    fn dropping_the_guard_writes_what_is_left() {
        let sink = Sink::default();
        // A flush interval no test waits for: only the guard's drop can write the line.
        let (buffer, guard) = buffered(sink.clone(), Duration::from_secs(3600));
        buffer.lock().write_all(b"last words\n").unwrap();
        assert_eq!(sink.text(), "");
        drop(guard);
        assert_eq!(sink.text(), "last words\n");
    }

    #[test]
    fn a_full_buffer_is_written_without_waiting_for_the_flusher() {
        let sink = Sink::default();
        let (buffer, guard) = buffered(sink.clone(), Duration::from_secs(3600));
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..(BUFFER_BYTES / line.len() + 1) {
            buffer.lock().write_all(line.as_bytes()).unwrap();
        }
        let written = sink.text();
        assert!(written.len() >= BUFFER_BYTES - line.len(), "only {} bytes written", written.len());
        assert!(written.ends_with('\n') && written.lines().all(|l| l.len() == 1023), "lines stay whole");
        drop(guard);
    }

    #[test]
    fn subscriber_lines_from_many_threads_never_interleave() {
        use tracing_subscriber::layer::SubscriberExt;
        let sink = Sink::default();
        let (buffer, guard) = buffered(sink.clone(), Duration::from_secs(3600));
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().json().with_writer(buffer));
        let dispatch = tracing::Dispatch::new(subscriber);
        std::thread::scope(|s| {
            for t in 0..4 {
                let dispatch = dispatch.clone();
                s.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..500 {
                            tracing::info!(thread = t, i, padding = "y".repeat(200), "line");
                        }
                    });
                });
            }
        });
        drop(guard);
        let text = sink.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000);
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(v["fields"]["message"], "line");
        }
    }
}
