//! Which static thresholds apply to an address: those of `[detect.ddos]`, or those of the
//! host group with the most specific prefix containing it, for the traffic's direction.
//! Compiled once from the config; looked up at tick time, never per record.

use crate::class::{self, CLASSES};
use crate::config::{DdosConfig, GroupThresholds, HostGroup};
use rampart_model::{Cidr, Direction};
use std::net::IpAddr;

/// The thresholds in force for one group and direction (or the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThresholdSet {
    /// Index of the host group in the config, `None` for the defaults.
    pub group: Option<usize>,
    pub host_pps: u64,
    pub host_bps: u64,
    pub prefix_pps: u64,
    pub prefix_bps: u64,
    /// Per class; 0 = none.
    pub vectors: [u64; CLASSES],
    /// Lowest packets/s threshold of a host: any one vector is at most the total.
    pub host_min_pps: u64,
    /// Learned thresholds apply to these addresses.
    pub baseline: bool,
}

impl ThresholdSet {
    fn defaults(cfg: &DdosConfig) -> Self {
        let mut set = ThresholdSet {
            group: None,
            host_pps: cfg.host_pps,
            host_bps: cfg.host_bps,
            prefix_pps: cfg.prefix_pps,
            prefix_bps: cfg.prefix_bps,
            vectors: class::thresholds(&cfg.vector_pps),
            host_min_pps: 0,
            baseline: cfg.baseline.enabled,
        };
        set.finish();
        set
    }

    fn apply(&mut self, t: &GroupThresholds) {
        let set = |v: &mut u64, o: Option<u64>| {
            if let Some(o) = o {
                *v = o.max(1);
            }
        };
        set(&mut self.host_pps, t.host_pps);
        set(&mut self.host_bps, t.host_bps);
        set(&mut self.prefix_pps, t.prefix_pps);
        set(&mut self.prefix_bps, t.prefix_bps);
        for (&vector, &pps) in &t.vector_pps {
            for c in 0..CLASSES {
                if class::vector(c) == vector {
                    self.vectors[c] = pps;
                }
            }
        }
    }

    fn finish(&mut self) {
        self.host_min_pps = self
            .vectors
            .iter()
            .copied()
            .filter(|&t| t > 0)
            .fold(self.host_pps.max(1), u64::min);
    }

    fn group(cfg: &DdosConfig, index: usize, g: &HostGroup, direction: Direction) -> Self {
        let mut set = ThresholdSet::defaults(cfg);
        set.group = Some(index);
        set.apply(&GroupThresholds {
            host_pps: g.host_pps,
            host_bps: g.host_bps,
            prefix_pps: g.prefix_pps,
            prefix_bps: g.prefix_bps,
            vector_pps: g.vector_pps.clone(),
        });
        let own = match direction {
            Direction::Inbound => &g.inbound,
            Direction::Outbound => &g.outbound,
        };
        if let Some(t) = own {
            set.apply(t);
        }
        set.baseline = cfg.baseline.enabled && g.baseline.unwrap_or(true);
        set.finish();
        set
    }
}

/// Every threshold set and the prefixes that select them.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// The defaults first, then two per group: inbound, outbound.
    sets: Vec<ThresholdSet>,
    /// (prefix, group), longest prefixes first; config order between equal lengths.
    prefixes: Vec<(Cidr, usize)>,
}

/// Index of the default set in `Limits::sets`.
pub(crate) const DEFAULT_SET: u16 = 0;

impl Limits {
    pub(crate) fn new(cfg: &DdosConfig) -> Self {
        let mut sets = vec![ThresholdSet::defaults(cfg)];
        for (i, g) in cfg.groups.iter().enumerate() {
            sets.push(ThresholdSet::group(cfg, i, g, Direction::Inbound));
            sets.push(ThresholdSet::group(cfg, i, g, Direction::Outbound));
        }
        let mut prefixes: Vec<(Cidr, usize)> = cfg
            .groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.prefixes.iter().map(move |&p| (p, i)))
            .collect();
        prefixes.sort_by_key(|&(p, _)| std::cmp::Reverse(p.prefix_len()));
        Limits { sets, prefixes }
    }

    #[inline]
    pub(crate) fn set(&self, index: u16) -> &ThresholdSet {
        self.sets
            .get(usize::from(index))
            .unwrap_or(&self.sets[usize::from(DEFAULT_SET)])
    }

    /// The set for traffic of `direction` to or from `addr`, an address or (with
    /// `prefix_len`) a counted prefix, which a group must contain whole.
    pub(crate) fn select(&self, addr: IpAddr, prefix_len: Option<u8>, direction: Direction) -> u16 {
        let group = self
            .prefixes
            .iter()
            .find(|(p, _)| p.contains(addr) && prefix_len.is_none_or(|len| p.prefix_len() <= len));
        match group {
            Some(&(_, g)) => {
                let d = match direction {
                    Direction::Inbound => 0,
                    Direction::Outbound => 1,
                };
                (1 + 2 * g + d) as u16
            }
            None => DEFAULT_SET,
        }
    }

    /// True when host groups are configured (else every address has the defaults).
    pub(crate) fn has_groups(&self) -> bool {
        self.sets.len() > 1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rampart_model::DdosVector;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn most_specific_group_wins_per_direction() {
        let groups = vec![
            HostGroup {
                name: "dmz".into(),
                prefixes: vec!["203.0.113.0/24".parse().unwrap()],
                host_pps: Some(5_000),
                prefix_pps: Some(50_000),
                ..HostGroup::default()
            },
            HostGroup {
                name: "dns".into(),
                prefixes: vec!["203.0.113.53/32".parse().unwrap()],
                host_pps: Some(60_000),
                vector_pps: [(DdosVector::DnsAmplification, 0)].into_iter().collect(),
                outbound: Some(GroupThresholds {
                    host_pps: Some(3_000),
                    ..GroupThresholds::default()
                }),
                ..HostGroup::default()
            },
        ];
        let cfg = DdosConfig {
            groups,
            ..DdosConfig::default()
        };
        let l = Limits::new(&cfg);
        let inbound = |a: &str| l.set(l.select(ip(a), None, Direction::Inbound));
        let outbound = |a: &str| l.set(l.select(ip(a), None, Direction::Outbound));
        assert_eq!(inbound("198.51.100.1").group, None);
        assert_eq!(inbound("198.51.100.1").host_pps, 20_000);
        assert_eq!(inbound("203.0.113.9").host_pps, 5_000);
        assert_eq!(inbound("203.0.113.9").host_min_pps, 1_000);
        assert_eq!(inbound("203.0.113.53").host_pps, 60_000);
        assert_eq!(inbound("203.0.113.53").group, Some(1));
        assert_eq!(outbound("203.0.113.53").host_pps, 3_000);
        assert_eq!(outbound("203.0.113.9").host_pps, 5_000);
        let dns = inbound("203.0.113.53");
        assert!(dns.vectors.iter().all(|&v| v != 10_000), "{dns:?}");
        // A /24 is in the /24 group, not in the /32 one.
        let p = l.set(l.select(ip("203.0.113.0"), Some(24), Direction::Inbound));
        assert_eq!((p.group, p.prefix_pps), (Some(0), 50_000));
        let p = l.set(l.select(ip("203.0.112.0"), Some(23), Direction::Inbound));
        assert_eq!(p.group, None);
    }
}
