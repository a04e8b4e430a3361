//! Reads that decide something (mint a token, stop k3s) asked of several endpoints.

use std::sync::Arc;

use super::{Chain, ChainError, ObjectInfo, Result};
use crate::ids::ObjectId;

/// Several single-endpoint clients; an object read succeeds only when at least
/// `need` of them return the identical object (version, digest, owner, contents).
pub struct Quorum<C> {
    members: Vec<Arc<C>>,
    need: usize,
}

impl<C: Chain + 'static> Quorum<C> {
    /// `need` of `members` must agree (DESIGN default: 2 when 2 or more endpoints).
    pub fn new(members: Vec<C>, need: usize) -> Result<Self> {
        if need == 0 || need > members.len() {
            return Err(ChainError::Config(format!(
                "quorum of {need} out of {} endpoints is impossible: set `quorum` between 1 and the number of endpoints",
                members.len()
            )));
        }
        Ok(Quorum {
            members: members.into_iter().map(Arc::new).collect(),
            need,
        })
    }

    /// The DESIGN default: 2 when there are 2 or more members, else 1.
    pub fn default_need(members: usize) -> usize {
        if members >= 2 { 2 } else { 1 }
    }

    /// Reads `id` from every member concurrently and returns the answer at least
    /// `need` members gave (`None` = agreed it does not exist).
    pub async fn object(&self, id: ObjectId) -> Result<Option<ObjectInfo>> {
        let mut set = tokio::task::JoinSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let m = Arc::clone(m);
            set.spawn(async move { (i, m.describe(), m.object(id).await) });
        }
        let mut answers: Vec<(usize, String, Result<Option<ObjectInfo>>)> = Vec::new();
        while let Some(r) = set.join_next().await {
            answers.push(r.map_err(|e| ChainError::Config(format!("quorum task failed: {e}")))?);
        }
        answers.sort_by_key(|(i, _, _)| *i);
        let oks: Vec<&Option<ObjectInfo>> = answers
            .iter()
            .filter_map(|(_, _, r)| r.as_ref().ok())
            .collect();
        for candidate in &oks {
            if oks.iter().filter(|o| *o == candidate).count() >= self.need {
                return Ok((*candidate).clone());
            }
        }
        let detail = answers
            .iter()
            .map(|(_, who, r)| match r {
                Ok(Some(o)) => format!("{who}: version {}", o.version),
                Ok(None) => format!("{who}: not found"),
                Err(e) => format!("{who}: {e}"),
            })
            .collect::<Vec<_>>()
            .join("; ");
        if oks.len() < self.need {
            return Err(ChainError::Unavailable {
                endpoint: "quorum".into(),
                reason: format!("fewer than {} endpoints answered: {detail}", self.need),
            });
        }
        Err(ChainError::Disagreement { object: id, detail })
    }

    /// The members (for other reads that need no quorum).
    pub fn first(&self) -> &C {
        &self.members[0]
    }
}
