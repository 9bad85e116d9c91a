//! What replicas must share: a cache, rate-limit counters, leases (locks) and pub/sub.
//!
//! One trait, two implementations: [`RedisShared`] when `redis.url` is set (any number of api replicas), and
//! [`InProcessShared`] for the embedded default (one process). Callers never know which they have.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};

#[async_trait]
pub trait SharedState: Send + Sync {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>>;
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Counts a hit in a fixed window that starts at the first hit. Returns the count so far and the time left.
    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<(u64, Duration)>;
    /// Takes the lease `key` for `holder` if it is free or already `holder`'s (then extends it).
    async fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> anyhow::Result<bool>;
    /// Gives the lease up if `holder` still has it.
    async fn release_lease(&self, key: &str, holder: &str) -> anyhow::Result<()>;
    /// Sends `message` to every subscriber of `channel`; returns how many there were.
    async fn publish(&self, channel: &str, message: &str) -> anyhow::Result<u64>;
    /// Messages published on `channel` from now on, from any replica.
    async fn subscribe(&self, channel: &str) -> anyhow::Result<mpsc::Receiver<String>>;
    /// Readiness: the backing store answers.
    async fn ping(&self) -> anyhow::Result<()>;
    fn backend(&self) -> &'static str;
}

/// In-process implementation: a mutex-guarded map with expiries, and broadcast channels.
#[derive(Default)]
pub struct InProcessShared {
    entries: Mutex<HashMap<String, (String, Instant)>>,
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

impl InProcessShared {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, (String, Instant)>> {
        // A panic while holding this lock leaves only plain data behind; keep serving.
        let mut map = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > 10_000 {
            let now = Instant::now();
            map.retain(|_, (_, expires)| *expires > now);
        }
        map
    }

    fn live(map: &HashMap<String, (String, Instant)>, key: &str) -> Option<(String, Instant)> {
        map.get(key).filter(|(_, expires)| *expires > Instant::now()).cloned()
    }
}

#[async_trait]
impl SharedState for InProcessShared {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(Self::live(&self.entries(), key).map(|(value, _)| value))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        self.entries().insert(key.to_owned(), (value.to_owned(), Instant::now() + ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.entries().remove(key);
        Ok(())
    }

    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<(u64, Duration)> {
        let mut map = self.entries();
        let now = Instant::now();
        let (count, expires) = match Self::live(&map, key) {
            Some((count, expires)) => (count.parse::<u64>().unwrap_or(0) + 1, expires),
            None => (1, now + window),
        };
        map.insert(key.to_owned(), (count.to_string(), expires));
        Ok((count, expires.saturating_duration_since(now)))
    }

    async fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> anyhow::Result<bool> {
        let mut map = self.entries();
        match Self::live(&map, key) {
            Some((current, _)) if current != holder => Ok(false),
            _ => {
                map.insert(key.to_owned(), (holder.to_owned(), Instant::now() + ttl));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, key: &str, holder: &str) -> anyhow::Result<()> {
        let mut map = self.entries();
        if Self::live(&map, key).is_some_and(|(current, _)| current == holder) {
            map.remove(key);
        }
        Ok(())
    }

    async fn publish(&self, channel: &str, message: &str) -> anyhow::Result<u64> {
        let channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // No receivers is not an error: nobody was listening.
        let heard = channels.get(channel).and_then(|sender| sender.send(message.to_owned()).ok()).unwrap_or(0);
        Ok(u64::try_from(heard).unwrap_or(u64::MAX))
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<mpsc::Receiver<String>> {
        let mut source = {
            let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            channels.entry(channel.to_owned()).or_insert_with(|| broadcast::channel(256).0).subscribe()
        };
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                match source.recv().await {
                    Ok(message) => {
                        if tx.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "pub/sub subscriber lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(rx)
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

/// Redis implementation over a deadpool pool; keys and channels carry the deployment's prefix.
pub struct RedisShared {
    pool: deadpool_redis::Pool,
    client: redis::Client,
    prefix: String,
}

const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
";

const ACQUIRE_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

impl RedisShared {
    pub async fn connect(url: &str, prefix: &str, pool_size: usize) -> anyhow::Result<Self> {
        let mut config = deadpool_redis::Config::from_url(url);
        config.pool = Some(deadpool_redis::PoolConfig::new(pool_size));
        let pool = config.create_pool(Some(deadpool_redis::Runtime::Tokio1)).context("creating the Redis pool")?;
        let client = redis::Client::open(url).context("parsing redis.url")?;
        let shared = Self { pool, client, prefix: prefix.to_owned() };
        shared.ping().await.context("connecting to Redis")?;
        Ok(shared)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn conn(&self) -> anyhow::Result<deadpool_redis::Connection> {
        self.pool.get().await.context("getting a Redis connection")
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl SharedState for RedisShared {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("GET").arg(self.key(key)).query_async(&mut conn).await?)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl)).query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("DEL").arg(self.key(key)).query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<(u64, Duration)> {
        let mut conn = self.conn().await?;
        let (count, ttl_ms): (u64, i64) =
            redis::Script::new(HIT_SCRIPT).key(self.key(key)).arg(millis(window)).invoke_async(&mut conn).await?;
        Ok((count, Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0))))
    }

    async fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let taken: i64 = redis::Script::new(ACQUIRE_SCRIPT)
            .key(self.key(key))
            .arg(holder)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        redis::Script::new(RELEASE_SCRIPT).key(self.key(key)).arg(holder).invoke_async::<i64>(&mut conn).await?;
        Ok(())
    }

    async fn publish(&self, channel: &str, message: &str) -> anyhow::Result<u64> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("PUBLISH").arg(self.key(channel)).arg(message).query_async::<u64>(&mut conn).await?)
    }

    async fn subscribe(&self, channel: &str) -> anyhow::Result<mpsc::Receiver<String>> {
        let mut pubsub = self.client.get_async_pubsub().await.context("opening a Redis pub/sub connection")?;
        pubsub.subscribe(self.key(channel)).await.context("subscribing")?;
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else { continue };
                if tx.send(payload).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

pub async fn connect(settings: &crate::foundation::settings::RedisSettings) -> anyhow::Result<Arc<dyn SharedState>> {
    if settings.url.is_empty() {
        Ok(Arc::new(InProcessShared::new()))
    } else {
        Ok(Arc::new(RedisShared::connect(settings.url.expose(), &settings.key_prefix, settings.pool_size).await?))
    }
}
