//! Changes announced to every gateway over Redis pub/sub: a revoked key, changed keys or
//! consumers, changed tiers. Publishing is best effort; while the subscription is down, cached
//! keys live only [2 s](super::cache) so changes still arrive in time, and the cache is cleared
//! on every (re)subscription because messages may have been missed meanwhile.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;

use super::Access;
use super::cache::KeyCache;
use super::keys::KeyHash;

/// Something other gateways must know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    KeyRevoked(KeyHash),
    /// Consumers or keys changed in ways that are not one key (tier, disabled, deleted).
    KeysChanged,
    TiersChanged,
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Self::KeyRevoked(hash) => format!("revoked {}", hash.to_hex()),
            Self::KeysChanged => "keys".into(),
            Self::TiersChanged => "tiers".into(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text.split_once(' ') {
            Some(("revoked", hex_hash)) => {
                KeyHash::parse(&format!("sha256:{hex_hash}")).map(Self::KeyRevoked)
            }
            _ => match text {
                "keys" => Some(Self::KeysChanged),
                "tiers" => Some(Self::TiersChanged),
                _ => None,
            },
        }
    }
}

pub struct Events {
    client: redis::Client,
    channel: String,
    cache: Arc<KeyCache>,
    subscribed: AtomicBool,
    publisher: OnceLock<ConnectionManager>,
}

impl Events {
    pub fn new(client: redis::Client, prefix: &str, cache: Arc<KeyCache>) -> Self {
        Self {
            client,
            channel: format!("{prefix}events"),
            cache,
            subscribed: AtomicBool::new(false),
            publisher: OnceLock::new(),
        }
    }

    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Announces `event` to every gateway (this one included, through its subscription).
    pub async fn publish(&self, event: &Event) {
        let connection = match self.publisher.get() {
            Some(c) => c.clone(),
            None => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)));
                match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
                    Ok(c) => self.publisher.get_or_init(|| c).clone(),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot announce a change to other gateways");
                        return;
                    }
                }
            }
        };
        let mut connection = connection;
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.channel).arg(event.encode());
        let sent = publish.query_async::<i64>(&mut connection);
        match tokio::time::timeout(Duration::from_secs(1), sent).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot announce a change to other gateways"),
            Err(_) => tracing::warn!("announcing a change to other gateways timed out"),
        }
    }

    /// Subscribes and applies events until `stop` resolves, resubscribing after failures.
    pub async fn run(&self, access: &Access, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                result = self.subscribe_once(access) => {
                    self.subscribed.store(false, Ordering::Release);
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "change subscription lost; retrying");
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    async fn subscribe_once(&self, access: &Access) -> redis::RedisResult<()> {
        let mut pubsub =
            tokio::time::timeout(Duration::from_secs(1), self.client.get_async_pubsub())
                .await
                .map_err(|_| {
                    redis::RedisError::from((redis::ErrorKind::Io, "connect timed out"))
                })??;
        pubsub.subscribe(&self.channel).await?;
        // Anything cached before may have missed a message.
        self.cache.clear();
        self.subscribed.store(true, Ordering::Release);
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let text: String = message.get_payload().unwrap_or_default();
            match Event::decode(&text) {
                Some(Event::KeyRevoked(hash)) => self.cache.remove(&hash),
                Some(Event::KeysChanged) => self.cache.clear(),
                Some(Event::TiersChanged) => {
                    if let Err(e) = access.reload_tiers().await {
                        tracing::warn!(error = %e, "cannot reload tiers");
                    }
                }
                None => tracing::debug!(text, "unknown change event"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for event in [
            Event::KeyRevoked(KeyHash::of("k")),
            Event::KeysChanged,
            Event::TiersChanged,
        ] {
            assert_eq!(Event::decode(&event.encode()), Some(event));
        }
        assert_eq!(Event::decode("revoked zz"), None);
    }
}
