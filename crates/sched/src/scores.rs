//! Node scores kept between placements, per request shape.
//!
//! A policy's score of a node for a replica depends only on that node's free capacity and the
//! replica's shape (FGD's fragmentation, Strata's costs and the baselines alike), and a placement
//! changes one node. So a [`crate::Placer`] keeps, for each shape it has seen recently, every
//! node's score and re-scores only the nodes changed since that shape was last asked for: a
//! decision costs one pass over cached numbers instead of scoring 10,000 nodes. Workloads repeat
//! a few hundred shapes; the least recently used beyond [`MAX_SHAPES`] are dropped and scored
//! afresh when they come back.
//!
//! Each shape's scores also stand in a tournament tree (a max segment tree over the nodes, ties
//! to the lower seeded rank), updated along one path per re-scored node, so the best node is
//! read at the root instead of by a pass over every node's score: at 20,000 nodes that pass was
//! most of a decision. A node the caller turns down (too little memory, a density limit) sends
//! the search down the tree best first (skipping subtrees without the memory asked for); after
//! [`STEPS_BEFORE_SCAN`] steps it scans instead, so a decision never costs much more than a scan.

use crate::fleet::{Choice, Gpu, Needs, Node};
use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

/// Shapes kept at once: at 10,000 nodes each costs about 240 KiB.
pub(crate) const MAX_SHAPES: usize = 384;

/// Everything in a request that a node's score or feasibility depends on, but memory: no
/// policy ranks by it, so the caller checks it when reading the scores (openb's 457 shapes are
/// 330 without it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// The most a node offers one replica, packed so that scoring a shape can pass over a node that
/// cannot fit it without reading the node: free CPU, the most fully free devices of any one model,
/// the most free milli-GPU on any one device. Upper bounds whatever models or labels a request
/// allows, so a node it turns down never fits. Scoring a shape met for the first time on all
/// 10,000 nodes was the tail of multi-GPU decisions, and on a busy fleet most nodes are full.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Room {
    cpu: u64,
    whole: u32,
    share: u32,
}

impl Room {
    pub fn of(node: &Node) -> Room {
        Room {
            cpu: node.cpu,
            whole: node.models.iter().map(|&m| node.whole_free(m)).max().unwrap_or(0),
            share: node.gpus.iter().map(|d| d.free).max().unwrap_or(0),
        }
    }

    /// False only where [`Node::fit`] finds no fit, memory aside.
    fn may_fit(self, needs: &Needs) -> bool {
        self.cpu >= needs.cpu
            && match needs.gpu {
                Gpu::None => true,
                Gpu::Share(m) => self.share >= m,
                Gpu::Whole(n) => self.whole >= n,
            }
    }
}

/// One node's rank for a shape (larger is better) and the devices it would take; `None` where
/// the replica does not fit.
pub(crate) type Scored = Option<(f64, Choice)>;

/// Tree slots the best-first search may visit before it gives way to a scan: about 16 paths
/// from root to leaf at 20,000 nodes, a few microseconds; a scan there takes some 70.
pub(crate) const STEPS_BEFORE_SCAN: usize = 256;

/// No node (in a tree slot whose subtree has no fitting node).
const NONE: u32 = u32::MAX;

struct Shape {
    scores: Vec<Scored>,
    /// The tournament: `tree[n + i]` is node `i` (or [`NONE`] where it does not fit),
    /// `tree[k]` the better of `tree[2k]` and `tree[2k + 1]`; the best node is `tree[1]`.
    tree: Vec<u32>,
    /// Changes (positions in the log, counted from the start) already scored.
    seen: usize,
    last_use: u64,
}

pub(crate) struct ScoreCache {
    /// Per node, its seeded rank: among equal scores the lowest wins.
    rank: Vec<usize>,
    /// The most free memory under each slot of the trees (all shapes' trees have the same
    /// slots): the search skips a subtree where no node has the memory a replica needs, which
    /// on a full fleet is most of the best-scored ones.
    mem: Vec<u64>,
    /// Per node: what it offers, to pass over the nodes a shape cannot fit (see [`Room`]).
    room: Vec<Room>,
    /// See [`STEPS_BEFORE_SCAN`] (a field so tests can make the scan happen).
    steps_before_scan: usize,
    /// Nodes changed, oldest first; `log[0]` is change number `base`.
    log: Vec<usize>,
    base: usize,
    /// By shape; hashed with fixed keys. Nothing depends on its order (the least recently used
    /// is the one smallest `last_use`, which no two shapes share).
    shapes: HashMap<ShapeKey, Shape, BuildHasherDefault<DefaultHasher>>,
    /// Calls to [`ScoreCache::scores`] so far: the clock of `last_use` and `stamp`.
    uses: u64,
    /// Per node: the call that last re-scored it.
    stamp: Vec<u64>,
}

/// A tree slot in the best-first search, ordered as the nodes it stands for.
struct Slot {
    key: f64,
    rank: usize,
    slot: usize,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Slot {}
impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.total_cmp(&other.key).then(other.rank.cmp(&self.rank)).then(other.slot.cmp(&self.slot))
    }
}

impl Shape {
    fn key(&self, node: u32) -> Option<f64> {
        self.scores.get(node as usize).copied().flatten().map(|(key, _)| key)
    }

    /// The better of two nodes (or `NONE`s): higher score, then lower rank.
    fn better(&self, rank: &[usize], a: u32, b: u32) -> u32 {
        match (self.key(a), self.key(b)) {
            (None, _) => b,
            (_, None) => a,
            (Some(ka), Some(kb)) => match ka.total_cmp(&kb) {
                Ordering::Greater => a,
                Ordering::Less => b,
                Ordering::Equal if rank[a as usize] <= rank[b as usize] => a,
                Ordering::Equal => b,
            },
        }
    }

    fn build(&mut self, rank: &[usize]) {
        let n = self.scores.len();
        self.tree = vec![NONE; 2 * n];
        for i in 0..n {
            self.tree[n + i] = if self.scores[i].is_some() { i as u32 } else { NONE };
        }
        for k in (1..n).rev() {
            self.tree[k] = self.better(rank, self.tree[2 * k], self.tree[2 * k + 1]);
        }
    }

    fn update(&mut self, rank: &[usize], node: usize) {
        let n = self.scores.len();
        let mut k = n + node;
        self.tree[k] = if self.scores[node].is_some() { node as u32 } else { NONE };
        while k > 1 {
            k /= 2;
            self.tree[k] = self.better(rank, self.tree[2 * k], self.tree[2 * k + 1]);
        }
    }

    /// The best node that `accept` takes, with its score and devices; subtrees `roomy` turns
    /// down (by tree slot) hold none it would take.
    fn best(
        &self,
        rank: &[usize],
        steps_before_scan: usize,
        roomy: impl Fn(usize) -> bool,
        accept: impl Fn(usize) -> bool,
    ) -> Option<(usize, f64, Choice)> {
        let found = |node: u32| self.scores[node as usize].map(|(key, choice)| (node as usize, key, choice));
        let top = *self.tree.get(1)?;
        if top == NONE {
            return None;
        }
        if accept(top as usize) {
            return found(top);
        }
        let slot = |k: usize| {
            let node = self.tree[k];
            let key = self.key(node).filter(|_| roomy(k))?;
            Some(Slot { key, rank: rank[node as usize], slot: k })
        };
        let n = self.scores.len();
        let mut heap: BinaryHeap<Slot> = BinaryHeap::new();
        heap.extend(slot(1));
        let mut steps = 0;
        while let Some(Slot { slot: k, .. }) = heap.pop() {
            steps += 1;
            if steps > steps_before_scan {
                return self.scan(rank, accept);
            }
            if k >= n {
                let node = self.tree[k];
                if accept(node as usize) {
                    return found(node);
                }
            } else {
                heap.extend(slot(2 * k));
                heap.extend(slot(2 * k + 1));
            }
        }
        None
    }

    /// [`Shape::best`] by a pass over every node.
    fn scan(&self, rank: &[usize], accept: impl Fn(usize) -> bool) -> Option<(usize, f64, Choice)> {
        let mut best: Option<(usize, f64, Choice)> = None;
        for (node, scored) in self.scores.iter().enumerate() {
            let Some((key, choice)) = *scored else { continue };
            let better = best.is_none_or(|(b, bk, _)| match key.total_cmp(&bk) {
                Ordering::Greater => true,
                Ordering::Equal => rank[node] < rank[b],
                Ordering::Less => false,
            });
            if better && accept(node) {
                best = Some((node, key, choice));
            }
        }
        best
    }
}

impl ScoreCache {
    /// A cache for a fleet whose nodes have these seeded ranks, free memory and room.
    pub fn new(rank: Vec<usize>, free_mem: &[u64], room: Vec<Room>) -> Self {
        let n = free_mem.len();
        let mut mem = vec![0; 2 * n];
        mem[n..].copy_from_slice(free_mem);
        for k in (1..n).rev() {
            mem[k] = mem[2 * k].max(mem[2 * k + 1]);
        }
        ScoreCache {
            rank,
            mem,
            room,
            steps_before_scan: STEPS_BEFORE_SCAN,
            log: Vec::new(),
            base: 0,
            shapes: HashMap::default(),
            uses: 0,
            stamp: Vec::new(),
        }
    }

    #[cfg(test)]
    pub fn set_steps_before_scan(&mut self, n: usize) {
        self.steps_before_scan = n;
    }

    /// Notes that a node's free capacity changed; `free_mem` and `room` are what it has now.
    pub fn touched(&mut self, node: usize, nodes: usize, free_mem: u64, room: Room) {
        if let Some(r) = self.room.get_mut(node) {
            *r = room;
        }
        if 2 * nodes == self.mem.len() && node < nodes {
            let mut k = nodes + node;
            self.mem[k] = free_mem;
            while k > 1 {
                k /= 2;
                self.mem[k] = self.mem[2 * k].max(self.mem[2 * k + 1]);
            }
        }
        self.log.push(node);
        // A shape this far behind is scored afresh anyway: forget the older changes.
        if self.log.len() > 2 * nodes.max(1) {
            let drop = self.log.len() - nodes.max(1);
            self.log.drain(..drop);
            self.base += drop;
        }
    }

    /// The best node for this shape that `accept` takes (highest score, then lowest rank), with
    /// its score and devices. `score(i)` is called for the nodes that changed since the shape was
    /// last asked for (all of them the first time); it must score as if the replica needed no
    /// memory.
    pub fn best(
        &mut self,
        needs: &Needs,
        nodes: usize,
        score: impl FnMut(usize) -> Scored,
        accept: impl Fn(usize) -> bool,
    ) -> Option<(usize, f64, Choice)> {
        let key = ShapeKey::of(needs);
        self.refresh(&key, needs, nodes, score);
        let shape = self.shapes.get(&key)?;
        // Without the memory tree (a cache built for another fleet) nothing is skipped.
        let roomy = |k: usize| self.mem.get(k).is_none_or(|&m| m >= needs.mem);
        shape.best(&self.rank, self.steps_before_scan, roomy, accept)
    }

    /// Brings the shape's scores and tree up to date (the key is cloned only for a new shape).
    fn refresh(&mut self, key: &ShapeKey, needs: &Needs, nodes: usize, mut score: impl FnMut(usize) -> Scored) {
        self.uses += 1;
        let now = self.base + self.log.len();
        if !self.shapes.contains_key(key) {
            if self.shapes.len() >= MAX_SHAPES {
                let oldest = self.shapes.iter().min_by_key(|(_, s)| s.last_use).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.shapes.remove(&oldest);
                }
            }
            let empty = Shape { scores: Vec::new(), tree: Vec::new(), seen: 0, last_use: 0 };
            self.shapes.insert(key.clone(), empty);
        }
        let Some(shape) = self.shapes.get_mut(key) else { return };
        shape.last_use = self.uses;
        // Rooms of another fleet (a cache built for one of another size) rule nothing out.
        let room = if self.room.len() == nodes { &self.room[..] } else { &[] };
        let mut score = |node: usize| match room.get(node) {
            Some(r) if !r.may_fit(needs) => None,
            _ => score(node),
        };
        if shape.scores.len() != nodes || shape.seen < self.base {
            shape.scores = (0..nodes).map(&mut score).collect();
            shape.build(&self.rank);
        } else {
            // A node changed several times since is scored once.
            self.stamp.resize(nodes, 0);
            for &node in &self.log[shape.seen - self.base..] {
                if self.stamp[node] != self.uses {
                    self.stamp[node] = self.uses;
                    let was = shape.key(node as u32);
                    shape.scores[node] = score(node);
                    // The tree orders nodes by key alone: a node whose key did not change (most
                    // often, one that fits this shape neither before nor after) leaves it as it is.
                    let is = shape.key(node as u32);
                    if was.map(f64::to_bits) != is.map(f64::to_bits) {
                        shape.update(&self.rank, node);
                    }
                }
            }
        }
        shape.seen = now;
    }
}
