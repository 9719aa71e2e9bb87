//! Who is watching: HLS is stateless, so a viewer is someone who fetched a
//! media playlist recently. Players re-fetch a live playlist every target
//! duration, so anyone not seen for a few of those has left.
//!
//! Pure: the classroom task feeds sightings in and reads the count, with
//! time passed in.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// A viewer gone quiet for this long has left (three 2-second segments,
/// plus room for a slow network).
pub const DEFAULT_VIEWER_TIMEOUT: Duration = Duration::from_secs(8);
/// Bound on tracked viewers per classroom, so a flood of distinct clients
/// costs bounded memory; the count saturates there.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct Viewers {
    timeout: Duration,
    last_seen: HashMap<u64, Instant>,
}

impl Viewers {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            last_seen: HashMap::new(),
        }
    }

    /// `viewer` is an opaque key: a hash of who asked (address, player).
    pub fn seen(&mut self, viewer: u64, now: Instant) {
        if self.last_seen.len() < MAX_TRACKED || self.last_seen.contains_key(&viewer) {
            self.last_seen.insert(viewer, now);
        }
    }

    /// Forgets viewers gone quiet and returns how many remain.
    pub fn count(&mut self, now: Instant) -> usize {
        let timeout = self.timeout;
        self.last_seen.retain(|_, seen| now - *seen < timeout);
        self.last_seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_counts_once_and_leaves_after_the_timeout() {
        let start = Instant::now();
        let mut viewers = Viewers::new(Duration::from_secs(8));
        viewers.seen(1, start);
        viewers.seen(1, start + Duration::from_secs(2));
        viewers.seen(2, start + Duration::from_secs(3));
        assert_eq!(viewers.count(start + Duration::from_secs(4)), 2);
        assert_eq!(viewers.count(start + Duration::from_secs(10)), 1);
        assert_eq!(viewers.count(start + Duration::from_secs(12)), 0);
    }
}
