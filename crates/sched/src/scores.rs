//! Node scores kept between placements, per request shape.
//!
//! A policy's score of a node for a replica depends only on that node's free capacity and the
//! replica's shape (FGD's fragmentation, Strata's costs and the baselines alike), and a placement
//! changes one node. So a [`crate::Placer`] keeps, for each shape it has seen recently, every
//! node's score and re-scores only the nodes changed since that shape was last asked for: a
//! decision costs one pass over cached numbers instead of scoring 10,000 nodes. Workloads repeat
//! a few hundred shapes; the least recently used beyond [`MAX_SHAPES`] are dropped and scored
//! afresh when they come back.

use crate::fleet::{Choice, Gpu, Needs};
use std::collections::BTreeMap;

/// Shapes kept at once: at 10,000 nodes each costs about 240 KiB.
pub(crate) const MAX_SHAPES: usize = 384;

/// Everything in a request that a node's score or feasibility depends on, but memory: no
/// policy ranks by it, so the caller checks it when reading the scores (openb's 457 shapes are
/// 330 without it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ShapeKey {
    cpu: u64,
    gpu: (u8, u32),
    allowed: Vec<bool>,
    pref: Vec<usize>,
    labels: Vec<(String, String)>,
}

impl ShapeKey {
    fn of(needs: &Needs) -> Self {
        let gpu = match needs.gpu {
            Gpu::None => (0, 0),
            Gpu::Share(m) => (1, m),
            Gpu::Whole(n) => (2, n),
        };
        ShapeKey {
            cpu: needs.cpu,
            gpu,
            allowed: needs.allowed.clone(),
            pref: needs.pref.clone(),
            labels: needs.res.node_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// One node's rank for a shape (larger is better) and the devices it would take; `None` where
/// the replica does not fit.
pub(crate) type Scored = Option<(f64, Choice)>;

struct Shape {
    scores: Vec<Scored>,
    /// Changes (positions in the log, counted from the start) already scored.
    seen: usize,
    last_use: u64,
}

#[derive(Default)]
pub(crate) struct ScoreCache {
    /// Nodes changed, oldest first; `log[0]` is change number `base`.
    log: Vec<usize>,
    base: usize,
    shapes: BTreeMap<ShapeKey, Shape>,
    /// Calls to [`ScoreCache::scores`] so far: the clock of `last_use` and `stamp`.
    uses: u64,
    /// Per node: the call that last re-scored it.
    stamp: Vec<u64>,
}

impl ScoreCache {
    /// Notes that a node's free capacity changed.
    pub fn touched(&mut self, node: usize, nodes: usize) {
        self.log.push(node);
        // A shape this far behind is scored afresh anyway: forget the older changes.
        if self.log.len() > 2 * nodes.max(1) {
            let drop = self.log.len() - nodes.max(1);
            self.log.drain(..drop);
            self.base += drop;
        }
    }

    /// Every node's score for this shape, up to date: `score(i)` is called for the nodes that
    /// changed since the shape was last asked for (all of them the first time). It must score
    /// as if the replica needed no memory.
    pub fn scores(&mut self, needs: &Needs, nodes: usize, mut score: impl FnMut(usize) -> Scored) -> &[Scored] {
        self.uses += 1;
        let now = self.base + self.log.len();
        let key = ShapeKey::of(needs);
        if !self.shapes.contains_key(&key) && self.shapes.len() >= MAX_SHAPES {
            let oldest = self.shapes.iter().min_by_key(|(_, s)| s.last_use).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.shapes.remove(&oldest);
            }
        }
        let shape = self.shapes.entry(key).or_insert_with(|| Shape { scores: Vec::new(), seen: 0, last_use: 0 });
        shape.last_use = self.uses;
        if shape.scores.len() != nodes || shape.seen < self.base {
            shape.scores = (0..nodes).map(&mut score).collect();
        } else {
            // A node changed several times since is scored once.
            self.stamp.resize(nodes, 0);
            for &node in &self.log[shape.seen - self.base..] {
                if self.stamp[node] != self.uses {
                    self.stamp[node] = self.uses;
                    shape.scores[node] = score(node);
                }
            }
        }
        shape.seen = now;
        &shape.scores
    }
}
