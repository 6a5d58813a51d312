//! Cross-replica ops for data-parallel programs: a sum over replica groups (`all_reduce`) and
//! the running replica's id. Both only mean something in a program compiled for several
//! replicas (`CompileOptions::replicated(n)`); with one replica and groups `[[0]]` the sum is the
//! identity and the id is 0.

use super::builder::Graph;
use super::types::{DType, Op, Tensor};
use crate::{Error, Result};

impl Graph {
    /// Every replica of a group receives the elementwise sum of `x` over the replicas of its
    /// group. `groups` must partition the replica ids `0..n` (each id exactly once, every group
    /// the same size, no group empty), e.g. `[[0, 1, 2, 3]]` for a sum over four replicas.
    pub fn all_reduce_sum(&mut self, x: Tensor, groups: &[Vec<usize>]) -> Result<Tensor> {
        let n = self.node(x)?;
        let (shape, dtype) = (n.shape.clone(), n.dtype);
        if dtype == DType::Pred {
            return Err(Error::DTypeMismatch {
                op: "all_reduce",
                dtypes: vec![dtype],
                reason: "a sum needs a numeric operand".into(),
            });
        }
        check_groups(&shape, groups)?;
        Ok(self.push(
            Op::AllReduceSum {
                input: x,
                groups: groups.to_vec(),
            },
            shape,
            dtype,
        ))
    }

    /// The id of the replica running the program, as a `ui32` scalar.
    pub fn replica_id(&mut self) -> Result<Tensor> {
        Ok(self.push(Op::ReplicaId, Vec::new(), DType::U32))
    }
}

/// One group of all `n` replicas, `[[0, 1, .., n-1]]`.
pub fn all_replicas(n: usize) -> Vec<Vec<usize>> {
    vec![(0..n).collect()]
}

fn check_groups(shape: &[usize], groups: &[Vec<usize>]) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::InvalidOpArgument {
            op: "all_reduce",
            shape: shape.to_vec(),
            reason,
        })
    };
    let Some(first) = groups.first() else {
        return bad("replica_groups is empty".into());
    };
    if first.is_empty() || groups.iter().any(|group| group.len() != first.len()) {
        return bad(format!(
            "replica groups {groups:?} must be non-empty and all the same size"
        ));
    }
    let total = groups.len() * first.len();
    let mut seen = vec![false; total];
    for &id in groups.iter().flatten() {
        if id >= total || seen[id] {
            return bad(format!(
                "replica groups {groups:?} must name each replica id 0..{total} exactly once"
            ));
        }
        seen[id] = true;
    }
    Ok(())
}
