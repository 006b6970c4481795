//! Where a request's outgoing messages go ([`Sink`]), and how a transport receives them
//! ([`SinkReceiver`]).

use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Waker};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::SendError;

use crate::protocol::Message;

/// Where a request's outgoing messages go: notifications about it (progress, log) and, in a
/// legacy session, requests to the client (elicitation, sampling, roots). A transport
/// creates one per request (an SSE stream over HTTP) or one per connection (stdio).
///
/// Either a channel the transport made ([`From<mpsc::Sender<Message>>`]), or a lazy one
/// ([`Sink::lazy`]) whose channel exists only once something is sent: most requests
/// send nothing, and a channel costs more than the dispatch of a small tool call.
#[derive(Clone)]
pub struct Sink(Kind);

#[derive(Clone)]
enum Kind {
    Channel(mpsc::Sender<Message>),
    Lazy(Arc<Lazy>),
}

/// The shared half of a lazy sink.
struct Lazy {
    capacity: usize,
    /// The sending half, once the first message made the channel.
    tx: OnceLock<mpsc::Sender<Message>>,
    slot: Mutex<Slot>,
}

/// The receiving half until the receiver takes it, and who to wake when it appears.
#[derive(Default)]
struct Slot {
    rx: Option<mpsc::Receiver<Message>>,
    waker: Option<Waker>,
    /// The receiver is gone: nothing will read what is sent.
    closed: bool,
}

impl Sink {
    /// A sink whose channel (of `capacity` messages, at least 1) is made by the first
    /// send, and the transport's end of it.
    pub fn lazy(capacity: usize) -> (Sink, SinkReceiver) {
        let lazy = Arc::new(Lazy { capacity: capacity.max(1), tx: OnceLock::new(), slot: Mutex::default() });
        (Sink(Kind::Lazy(lazy.clone())), SinkReceiver { lazy, rx: None })
    }

    /// Send a message, waiting while the channel is full. An error (with the message)
    /// means the receiver is gone: the client went away.
    pub async fn send(&self, message: Message) -> Result<(), SendError<Message>> {
        match &self.0 {
            Kind::Channel(tx) => tx.send(message).await,
            Kind::Lazy(lazy) => match lazy.sender() {
                Some(tx) => tx.send(message).await,
                None => Err(SendError(message)),
            },
        }
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        match &self.0 {
            Kind::Channel(tx) => tx.is_closed(),
            Kind::Lazy(lazy) => match lazy.tx.get() {
                Some(tx) => tx.is_closed(),
                None => lock(&lazy.slot).closed,
            },
        }
    }
}

impl Lazy {
    /// The channel's sender, made now if this is the first message; `None` when the
    /// receiver is gone.
    fn sender(&self) -> Option<&mpsc::Sender<Message>> {
        if let Some(tx) = self.tx.get() {
            return Some(tx);
        }
        let mut slot = lock(&self.slot);
        if slot.closed {
            return None;
        }
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(self.capacity);
            slot.rx = Some(rx);
            tx
        });
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
        Some(tx)
    }
}

impl From<mpsc::Sender<Message>> for Sink {
    fn from(tx: mpsc::Sender<Message>) -> Self {
        Sink(Kind::Channel(tx))
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            Kind::Channel(_) => "channel",
            Kind::Lazy(l) if l.tx.get().is_some() => "lazy, made",
            Kind::Lazy(_) => "lazy, not made",
        };
        f.debug_tuple("Sink").field(&kind).finish()
    }
}

/// The transport's end of a [`Sink::lazy`]. Dropping it closes the sink: later sends
/// fail, as they would on a closed channel.
pub struct SinkReceiver {
    lazy: Arc<Lazy>,
    rx: Option<mpsc::Receiver<Message>>,
}

impl SinkReceiver {
    /// The next message; waits for the first send if none came yet. Never `None` while
    /// the sink can still be used: a transport learns that the handler finished from
    /// the handler's future, then drains what is left with [`SinkReceiver::try_recv`].
    pub async fn recv(&mut self) -> Option<Message> {
        poll_fn(|cx| {
            if self.rx.is_none() {
                let mut slot = lock(&self.lazy.slot);
                match slot.rx.take() {
                    Some(rx) => self.rx = Some(rx),
                    None => {
                        slot.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            }
            match self.rx.as_mut() {
                Some(rx) => rx.poll_recv(cx),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// A message sent and not yet received, if any.
    pub fn try_recv(&mut self) -> Option<Message> {
        if self.rx.is_none() {
            self.rx = lock(&self.lazy.slot).rx.take();
        }
        self.rx.as_mut()?.try_recv().ok()
    }
}

impl Drop for SinkReceiver {
    fn drop(&mut self) {
        let mut slot = lock(&self.lazy.slot);
        slot.closed = true;
        slot.rx = None;
        slot.waker = None;
    }
}

impl fmt::Debug for SinkReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkReceiver").field("made", &self.lazy.tx.get().is_some()).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Notification, methods};

    fn note(n: u64) -> Message {
        Message::Notification(Notification::new(methods::PROGRESS, &serde_json::json!({ "progress": n })))
    }

    fn progress(m: &Message) -> Option<u64> {
        match m {
            Message::Notification(n) => {
                serde_json::from_str::<serde_json::Value>(n.params.as_deref()?.get()).ok()?.get("progress")?.as_u64()
            }
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_lazy_sink_makes_its_channel_on_the_first_send() {
        let (sink, mut rx) = Sink::lazy(2);
        assert!(rx.try_recv().is_none());
        assert!(format!("{sink:?}").contains("not made"));
        // The receiver waits before anything was sent, and wakes on the first send.
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            (first, rx)
        });
        tokio::task::yield_now().await;
        let clone = sink.clone();
        clone.send(note(1)).await.unwrap();
        let (first, mut rx) = waiting.await.unwrap();
        assert_eq!(first.as_ref().and_then(progress), Some(1));
        sink.send(note(2)).await.unwrap();
        sink.send(note(3)).await.unwrap();
        assert_eq!(rx.try_recv().as_ref().and_then(progress), Some(2));
        assert_eq!(rx.recv().await.as_ref().and_then(progress), Some(3));
        assert!(rx.try_recv().is_none());
        assert!(!sink.is_closed());
    }

    #[tokio::test]
    async fn sends_fail_once_the_receiver_is_gone() {
        // Before the channel was made…
        let (sink, rx) = Sink::lazy(4);
        drop(rx);
        assert!(sink.is_closed());
        assert!(sink.send(note(1)).await.is_err());
        // …and after.
        let (sink, mut rx) = Sink::lazy(4);
        sink.send(note(1)).await.unwrap();
        assert!(rx.try_recv().is_some());
        drop(rx);
        assert!(sink.is_closed());
        assert!(sink.send(note(2)).await.is_err());
        // A message sent but never taken by the receiver is dropped with it.
        let (sink, rx) = Sink::lazy(4);
        sink.send(note(1)).await.unwrap();
        drop(rx);
        assert!(sink.send(note(2)).await.is_err());
    }

    #[tokio::test]
    async fn a_full_lazy_channel_makes_the_sender_wait() {
        let (sink, mut rx) = Sink::lazy(1);
        sink.send(note(1)).await.unwrap();
        let second = tokio::spawn({
            let sink = sink.clone();
            async move { sink.send(note(2)).await }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second send waits for room");
        assert_eq!(rx.recv().await.as_ref().and_then(progress), Some(1));
        second.await.unwrap().unwrap();
        assert_eq!(rx.recv().await.as_ref().and_then(progress), Some(2));
    }

    #[tokio::test]
    async fn a_channel_sink_is_the_channel() {
        let (tx, mut rx) = mpsc::channel(1);
        let sink = Sink::from(tx);
        sink.send(note(7)).await.unwrap();
        assert_eq!(rx.recv().await.as_ref().and_then(progress), Some(7));
        drop(rx);
        assert!(sink.is_closed());
    }
}
