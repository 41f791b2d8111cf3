//! Reads of the data version shared by the requests that wait for it at the same time.
//!
//! Every cached answer and every 304 starts with the data version (`SELECT n FROM data_version`).
//! Under load many requests want it at once; instead of a query each, the requests that arrive
//! while one read is in flight wait together for the next read, which is sent only after all of
//! them arrived. Its snapshot is therefore taken after each of its readers arrived: every reader
//! gets a version at least as new as any commit that finished before its request came in, exactly
//! as if it had sent the query itself. Nothing is read from memory that the database has not just
//! confirmed, so two processes on one database never disagree for longer than a query takes.

use std::sync::Mutex;

use tokio::sync::watch;

use super::DbPool;
use crate::error::ApiResult;

/// What the readers of one batch learn: nothing yet, or the version (`None`: the read failed).
type Outcome = Option<Option<i64>>;

pub struct VersionReads {
    /// Counts the reads sent (for `/metrics`).
    reads: prometheus_client::metrics::counter::Counter,
    /// The batch that readers join: its read is not sent yet.
    open: Mutex<Option<watch::Receiver<Outcome>>>,
    /// One read in flight at a time: the next batch gathers while it runs.
    sending: tokio::sync::Mutex<()>,
}

enum Role {
    Lead(watch::Sender<Outcome>),
    Follow(watch::Receiver<Outcome>),
}

impl VersionReads {
    pub fn new(reads: prometheus_client::metrics::counter::Counter) -> Self {
        VersionReads {
            reads,
            open: Mutex::default(),
            sending: tokio::sync::Mutex::default(),
        }
    }

    /// The current data version, read after this call began.
    pub async fn current(&self, pool: &DbPool) -> ApiResult<i64> {
        loop {
            match self.join() {
                Role::Lead(sender) => {
                    let _turn = self.sending.lock().await;
                    // Close the batch: who comes from now on waits for the next read.
                    self.close(&sender.subscribe());
                    let read = self.read_once(pool).await;
                    sender.send_replace(Some(read.as_ref().ok().copied()));
                    return read;
                }
                Role::Follow(mut receiver) => {
                    let outcome = receiver.wait_for(Option::is_some).await.map(|o| *o);
                    match outcome {
                        Ok(Some(Some(version))) => return Ok(version),
                        // The shared read failed: read alone, for this request's own error.
                        Ok(_) => return self.read_once(pool).await,
                        // The leading request went away (its client hung up) before its read
                        // was answered: join or lead a new batch.
                        Err(_) => self.close(&receiver),
                    }
                }
            }
        }
    }

    fn join(&self) -> Role {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*open {
            Some(receiver) => Role::Follow(receiver.clone()),
            None => {
                let (sender, receiver) = watch::channel(None);
                *open = Some(receiver);
                Role::Lead(sender)
            }
        }
    }

    /// Takes the batch of `receiver` out of reach of new readers, if it is still the open one.
    fn close(&self, receiver: &watch::Receiver<Outcome>) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.as_ref().is_some_and(|o| o.same_channel(receiver)) {
            *open = None;
        }
    }
}

impl VersionReads {
    async fn read_once(&self, pool: &DbPool) -> ApiResult<i64> {
        self.reads.inc();
        let conn = pool.get().await?;
        super::data_version_shared(&conn).await
    }
}
