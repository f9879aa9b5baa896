//! Datanets: the types the `pallet-datanets` runtime API returns, the [`DatanetInspect`] trait
//! other pallets use to refer to datanet snapshots, the [`DatanetsApi`] runtime API, and the
//! Merkle tree over a version's contributions.
//!
//! # The Merkle rule (anyone can recompute a version's root)
//!
//! A version's `merkle_root` is the **RFC 6962 (§2.1) Merkle Tree Hash** with BLAKE2b-256 as
//! `HASH`, over the ordered list `D` of the version's contribution content hashes (each the
//! 32-byte `blake2_256` of the contributed bytes), in acceptance order (the order of
//! [`DatanetsApi::version_contributions`]):
//!
//! ```text
//! leaf(d)      = blake2_256(0x00 ‖ d)              d: 32-byte content hash
//! node(l, r)   = blake2_256(0x01 ‖ l ‖ r)          l, r: 32-byte child hashes
//! MTH([])      = blake2_256([])                    (never a published root: versions are non-empty)
//! MTH([d])     = leaf(d)
//! MTH(D[0..n]) = node(MTH(D[0..k]), MTH(D[k..n]))  k = the largest power of two < n
//! ```
//!
//! The `0x00`/`0x01` prefixes separate leaves from inner nodes (no second-preimage tricks).
//! Equivalently, bottom-up: hash the leaves, then pair neighbours level by level; a level's odd
//! last node is **promoted unchanged** to the next level (never duplicated). [`merkle_root`]
//! computes it that way, [`merkle_proof`] produces an RFC 6962 audit path and
//! [`verify_merkle_proof`] checks one (RFC 9162 §2.1.3.2). The pallet maintains the same root
//! incrementally with a [`frontier_append`] / [`frontier_root`] pair (`O(log n)` per accepted
//! contribution), so publishing a version costs at most 32 hashes whatever its size.

extern crate alloc;

use alloc::{string::String, vec::Vec};
use codec::{Codec, Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash as _};

#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

/// Identifier of a datanet (sequential from 0).
pub type DatanetId = u32;
/// Identifier of a contribution, unique across all datanets (sequential from 0).
pub type ContributionId = u64;
/// Number of a published version of a datanet (sequential from 1; 0 means "none yet").
pub type VersionNumber = u32;
/// `blake2_256` of a contribution's bytes: the key to fetch them from indexed transactions.
pub type ContentHash = H256;

/// Who may contribute to a datanet.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum Admission {
    /// Any account.
    Open,
    /// Only accounts the owner put on the datanet's allow list.
    AllowList,
}

/// Who may accept or reject pending contributions.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum CurationPolicy {
    /// The owner alone.
    Owner,
    /// The owner and every member of the datanet's curator set.
    Curators,
}

/// What happens to a contribution's deposit when it leaves the pending state without being
/// accepted. Accepted contributions keep their deposit on hold for as long as they stay
/// accepted (which is forever: acceptance is final). A forfeited deposit is paid to the
/// datanet's owner (burned if the owner's account cannot receive it).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum DepositPolicy {
    /// Rejected and withdrawn contributions get their deposit back.
    ReleaseAlways,
    /// Rejected contributions forfeit their deposit; withdrawn ones get it back.
    ForfeitOnReject,
    /// Rejected and withdrawn contributions both forfeit their deposit.
    ForfeitOnRejectOrWithdraw,
}

impl DepositPolicy {
    /// Whether a rejection forfeits the deposit.
    pub fn forfeits_on_reject(&self) -> bool {
        matches!(
            self,
            Self::ForfeitOnReject | Self::ForfeitOnRejectOrWithdraw
        )
    }
    /// Whether a withdrawal forfeits the deposit.
    pub fn forfeits_on_withdraw(&self) -> bool {
        matches!(self, Self::ForfeitOnRejectOrWithdraw)
    }
}

/// Lifecycle of a datanet.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum DatanetStatus {
    /// Accepts contributions.
    Open,
    /// Closed by its owner: no new contributions; everything recorded stays retrievable and
    /// pending contributions can still be curated or withdrawn, versions still published.
    Closed,
}

/// Lifecycle of a contribution.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum ContributionStatus {
    /// Waiting for a curator. Deposit on hold.
    Pending,
    /// Accepted (final). Deposit stays on hold; part of every version published from now on.
    Accepted,
    /// Rejected by a curator. Deposit released or forfeited per the datanet's policy.
    Rejected,
    /// Withdrawn by its contributor while pending. Deposit released or forfeited per policy.
    Withdrawn,
}

/// A datanet, as the runtime API returns it (JSON with named fields on the node).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr, \
		               BlockNumber: Deserialize<'de>"
    ))
)]
pub struct DatanetInfo<AccountId, Balance, BlockNumber> {
    pub id: DatanetId,
    pub owner: AccountId,
    /// Account whose creation deposit is on hold (the creator; it does not move with ownership).
    pub creator: AccountId,
    /// Creation deposit held from `creator`.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub creation_deposit: Balance,
    pub name: String,
    pub description: String,
    pub license: String,
    pub tags: Vec<String>,
    pub admission: Admission,
    pub curation: CurationPolicy,
    pub deposit_policy: DepositPolicy,
    /// Deposit per byte of payload, held from contributors on top of the runtime's base deposit.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub deposit_per_byte: Balance,
    pub status: DatanetStatus,
    pub curators: Vec<AccountId>,
    pub created_at: BlockNumber,
    /// Contributions ever made (any status); contribution indices run `0..contribution_count`.
    pub contribution_count: u32,
    pub pending_count: u32,
    /// Accepted contributions; accepted indices run `0..accepted_count`.
    pub accepted_count: u32,
    pub accepted_bytes: u64,
    /// Newest published version, 0 if none.
    pub latest_version: VersionNumber,
}

/// A contribution, as the runtime API returns it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr, \
		               BlockNumber: Deserialize<'de>"
    ))
)]
pub struct ContributionInfo<AccountId, Balance, BlockNumber> {
    pub id: ContributionId,
    pub datanet: DatanetId,
    /// Position among the datanet's contributions (any status).
    pub index: u32,
    pub contributor: AccountId,
    /// `blake2_256` of the bytes; fetch them with the node's indexed-transaction lookup.
    pub content_hash: ContentHash,
    /// Payload length in bytes.
    pub size: u32,
    /// Block whose body holds the bytes, and the extrinsic's index in it.
    pub block: BlockNumber,
    pub extrinsic_index: u32,
    pub status: ContributionStatus,
    /// Deposit on hold while pending or accepted; what was held before release or forfeit
    /// afterwards.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub deposit: Balance,
    /// Position in the datanet's accepted list (and so in every version containing it).
    pub accepted_index: Option<u32>,
    pub rejection_reason: Option<String>,
}

/// A published, immutable version of a datanet: the first `contribution_count` accepted
/// contributions, in acceptance order.
#[derive(
    Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct VersionInfo<BlockNumber> {
    pub datanet: DatanetId,
    pub version: VersionNumber,
    pub contribution_count: u32,
    pub total_bytes: u64,
    /// [`merkle_root`] of the version's ordered content hashes.
    pub merkle_root: H256,
    pub published_at: BlockNumber,
}

/// What other pallets (models, attribution, rewards) may ask about datanets.
pub trait DatanetInspect<AccountId, BlockNumber> {
    /// Whether the datanet exists.
    fn datanet_exists(datanet: DatanetId) -> bool;
    /// The datanet's current owner.
    fn datanet_owner(datanet: DatanetId) -> Option<AccountId>;
    /// A published version; `None` if the datanet or the version does not exist.
    fn version(datanet: DatanetId, version: VersionNumber) -> Option<VersionInfo<BlockNumber>>;
    /// Whether `(datanet, version)` exists and is published (versions are immutable once they
    /// exist).
    fn is_published(datanet: DatanetId, version: VersionNumber) -> bool {
        Self::version(datanet, version).is_some()
    }
    /// The account that made a contribution.
    fn contributor(contribution: ContributionId) -> Option<AccountId>;
    /// A contribution's content hash.
    fn content_hash(contribution: ContributionId) -> Option<ContentHash>;
    /// Whether the contribution belongs to the published version `(datanet, version)`.
    fn in_version(datanet: DatanetId, version: VersionNumber, contribution: ContributionId)
        -> bool;
    /// Contributions of a published version in Merkle-leaf order, from position `start`, at
    /// most `limit` (clamped to the pallet's page size).
    fn version_contributions(
        datanet: DatanetId,
        version: VersionNumber,
        start: u32,
        limit: u32,
    ) -> Vec<ContributionId>;
}

/// No datanets at all: for mocks of pallets that depend on [`DatanetInspect`].
impl<AccountId, BlockNumber> DatanetInspect<AccountId, BlockNumber> for () {
    fn datanet_exists(_: DatanetId) -> bool {
        false
    }
    fn datanet_owner(_: DatanetId) -> Option<AccountId> {
        None
    }
    fn version(_: DatanetId, _: VersionNumber) -> Option<VersionInfo<BlockNumber>> {
        None
    }
    fn contributor(_: ContributionId) -> Option<AccountId> {
        None
    }
    fn content_hash(_: ContributionId) -> Option<ContentHash> {
        None
    }
    fn in_version(_: DatanetId, _: VersionNumber, _: ContributionId) -> bool {
        false
    }
    fn version_contributions(
        _: DatanetId,
        _: VersionNumber,
        _: u32,
        _: u32,
    ) -> Vec<ContributionId> {
        Vec::new()
    }
}

sp_api::decl_runtime_apis! {
    /// Read access to datanets for the node's `datanets_*` JSON-RPC methods. Every list is paged
    /// by position (`start`) and at most `limit` long; the runtime clamps `limit` to its
    /// `MaxPageSize`. A page shorter than `limit` is the last one.
    pub trait DatanetsApi<AccountId, Balance, BlockNumber> where
        AccountId: Codec,
        Balance: Codec,
        BlockNumber: Codec,
    {
        /// Datanets with ids `start, start + 1, ...` (ids are sequential and never removed).
        fn datanets(start: DatanetId, limit: u32) -> Vec<DatanetInfo<AccountId, Balance, BlockNumber>>;
        /// One datanet.
        fn datanet(datanet: DatanetId) -> Option<DatanetInfo<AccountId, Balance, BlockNumber>>;
        /// The datanet's contributions (any status) by position `start, start + 1, ...`.
        fn contributions(datanet: DatanetId, start: u32, limit: u32)
            -> Vec<ContributionInfo<AccountId, Balance, BlockNumber>>;
        /// The contributions of a published version in Merkle-leaf order, from position `start`.
        /// Empty if the version does not exist.
        fn version_contributions(datanet: DatanetId, version: VersionNumber, start: u32, limit: u32)
            -> Vec<ContributionInfo<AccountId, Balance, BlockNumber>>;
        /// One contribution.
        fn contribution(id: ContributionId) -> Option<ContributionInfo<AccountId, Balance, BlockNumber>>;
        /// The contribution of `datanet` with this content hash (pending, accepted or rejected;
        /// a withdrawn contribution frees its hash).
        fn contribution_by_hash(datanet: DatanetId, content_hash: ContentHash)
            -> Option<ContributionInfo<AccountId, Balance, BlockNumber>>;
        /// One published version.
        fn version(datanet: DatanetId, version: VersionNumber) -> Option<VersionInfo<BlockNumber>>;
        /// Published versions `start, start + 1, ...` (version numbers start at 1).
        fn versions(datanet: DatanetId, start: VersionNumber, limit: u32) -> Vec<VersionInfo<BlockNumber>>;
        /// Whether `who` may contribute to `datanet` now (exists, open, admitted).
        fn can_contribute(datanet: DatanetId, who: AccountId) -> bool;
    }
}

/// Serde helper: balances as decimal strings (JSON numbers lose precision above 2^53).
#[cfg(feature = "std")]
pub mod as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, T: core::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: core::str::FromStr>(
        d: D,
    ) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<T>()
            .map_err(|_| serde::de::Error::custom("not a decimal number"))
    }
}

// ---------------------------------------------------------------------------------------------
// Merkle tree (RFC 6962 Merkle Tree Hash with BLAKE2b-256; see the module docs)
// ---------------------------------------------------------------------------------------------

/// Domain-separation prefix of a leaf.
pub const MERKLE_LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an inner node.
pub const MERKLE_NODE_PREFIX: u8 = 0x01;
/// Largest number of frontier entries: versions hold fewer than 2^32 contributions.
pub const MERKLE_FRONTIER_LEN: u32 = 32;

/// `blake2_256(0x00 ‖ content_hash)`.
pub fn merkle_leaf(content_hash: &H256) -> H256 {
    let mut buf = [0u8; 33];
    buf[0] = MERKLE_LEAF_PREFIX;
    buf[1..].copy_from_slice(content_hash.as_bytes());
    BlakeTwo256::hash(&buf)
}

/// `blake2_256(0x01 ‖ left ‖ right)`.
pub fn merkle_node(left: &H256, right: &H256) -> H256 {
    let mut buf = [0u8; 65];
    buf[0] = MERKLE_NODE_PREFIX;
    buf[1..33].copy_from_slice(left.as_bytes());
    buf[33..].copy_from_slice(right.as_bytes());
    BlakeTwo256::hash(&buf)
}

/// Root of the empty tree: `blake2_256([])`.
pub fn merkle_empty_root() -> H256 {
    BlakeTwo256::hash(&[])
}

/// Merkle root of the ordered content hashes (bottom-up, odd last node promoted).
pub fn merkle_root(content_hashes: &[H256]) -> H256 {
    if content_hashes.is_empty() {
        return merkle_empty_root();
    }
    let mut level: Vec<H256> = content_hashes.iter().map(merkle_leaf).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => merkle_node(l, r),
                [single] => *single,
                _ => H256::zero(), // `chunks(2)` yields 1 or 2 items; unreachable
            })
            .collect();
    }
    level.first().copied().unwrap_or_else(merkle_empty_root)
}

/// RFC 6962 audit path for the leaf at `index` (siblings from the bottom up). `None` if `index`
/// is out of range.
pub fn merkle_proof(content_hashes: &[H256], index: usize) -> Option<Vec<H256>> {
    if index >= content_hashes.len() {
        return None;
    }
    let mut proof = Vec::new();
    let mut level: Vec<H256> = content_hashes.iter().map(merkle_leaf).collect();
    let mut i = index;
    while level.len() > 1 {
        let sibling = i ^ 1;
        if let Some(s) = level.get(sibling) {
            proof.push(*s);
        }
        // else: `i` is a promoted odd last node, no sibling at this level.
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => merkle_node(l, r),
                [single] => *single,
                _ => H256::zero(),
            })
            .collect();
        i /= 2;
    }
    Some(proof)
}

/// Checks an RFC 6962 audit path (RFC 9162 §2.1.3.2): that `content_hash` is leaf `index` of a
/// tree of `size` leaves with root `root`.
pub fn verify_merkle_proof(
    root: &H256,
    content_hash: &H256,
    index: u64,
    size: u64,
    proof: &[H256],
) -> bool {
    if index >= size {
        return false;
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = merkle_leaf(content_hash);
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = merkle_node(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = merkle_node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Appends a leaf to an incremental Merkle frontier holding `count` leaves.
///
/// `frontier[h]` is the root of a perfect subtree of `2^h` leaves, meaningful exactly when bit
/// `h` of `count` is set (other entries are stale and ignored). At most
/// [`MERKLE_FRONTIER_LEN`] entries. Returns `false` (and leaves `frontier` untouched) if
/// `count == u32::MAX` or the frontier is inconsistent with `count`.
pub fn frontier_append(frontier: &mut Vec<H256>, count: u32, content_hash: &H256) -> bool {
    if count == u32::MAX {
        return false;
    }
    let mut node = merkle_leaf(content_hash);
    let mut h = 0usize;
    while count & (1u32 << h) != 0 {
        match frontier.get(h) {
            Some(left) => node = merkle_node(left, &node),
            None => return false,
        }
        h += 1;
    }
    // `count < u32::MAX`, so the first clear bit `h` is at most 31.
    if frontier.len() <= h {
        frontier.resize(h + 1, H256::zero());
    }
    match frontier.get_mut(h) {
        Some(slot) => *slot = node,
        None => return false,
    }
    true
}

/// The root of the tree a frontier holding `count` leaves describes (equal to
/// [`merkle_root`] of those leaves). `None` if the frontier is inconsistent with `count`.
pub fn frontier_root(frontier: &[H256], count: u32) -> Option<H256> {
    let mut acc: Option<H256> = None;
    for h in 0..MERKLE_FRONTIER_LEN {
        if count & (1u32 << h) != 0 {
            let peak = frontier.get(h as usize)?;
            acc = Some(match acc {
                None => *peak,
                Some(right) => merkle_node(peak, &right),
            });
        }
    }
    Some(acc.unwrap_or_else(merkle_empty_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> H256 {
        BlakeTwo256::hash(&i.to_le_bytes())
    }

    /// RFC 6962 §2.1, recursively with the split at the largest power of two below `n`.
    fn rfc6962(d: &[H256]) -> H256 {
        match d.len() {
            0 => merkle_empty_root(),
            1 => merkle_leaf(&d[0]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                merkle_node(&rfc6962(&d[..k]), &rfc6962(&d[k..]))
            }
        }
    }

    #[test]
    fn root_matches_rfc6962_definition_and_frontier() {
        let mut frontier = Vec::new();
        let mut leaves = Vec::new();
        assert_eq!(frontier_root(&frontier, 0), Some(merkle_empty_root()));
        for i in 0..260u32 {
            assert!(frontier_append(&mut frontier, i, &h(i)));
            leaves.push(h(i));
            let expected = rfc6962(&leaves);
            assert_eq!(merkle_root(&leaves), expected, "n = {}", i + 1);
            assert_eq!(
                frontier_root(&frontier, i + 1),
                Some(expected),
                "n = {}",
                i + 1
            );
        }
    }

    #[test]
    fn known_small_trees() {
        let (a, b, c) = (h(1), h(2), h(3));
        assert_eq!(merkle_root(&[a]), merkle_leaf(&a));
        assert_eq!(
            merkle_root(&[a, b]),
            merkle_node(&merkle_leaf(&a), &merkle_leaf(&b))
        );
        assert_eq!(
            merkle_root(&[a, b, c]),
            merkle_node(
                &merkle_node(&merkle_leaf(&a), &merkle_leaf(&b)),
                &merkle_leaf(&c)
            )
        );
        // Leaf and node hashing are domain separated.
        assert_ne!(merkle_leaf(&a), BlakeTwo256::hash(a.as_bytes()));
    }

    #[test]
    fn proofs_verify_and_reject_tampering() {
        for n in 1..40usize {
            let leaves: Vec<H256> = (0..n as u32).map(h).collect();
            let root = merkle_root(&leaves);
            for i in 0..n {
                let proof = merkle_proof(&leaves, i).expect("in range");
                assert!(verify_merkle_proof(
                    &root, &leaves[i], i as u64, n as u64, &proof
                ));
                assert!(!verify_merkle_proof(
                    &root,
                    &h(999),
                    i as u64,
                    n as u64,
                    &proof
                ));
                if n > 1 {
                    let other = (i + 1) % n;
                    assert!(!verify_merkle_proof(
                        &root,
                        &leaves[i],
                        other as u64,
                        n as u64,
                        &proof
                    ));
                }
            }
            assert!(merkle_proof(&leaves, n).is_none());
            assert!(!verify_merkle_proof(
                &root,
                &leaves[0],
                n as u64,
                n as u64,
                &[]
            ));
        }
    }

    #[test]
    fn frontier_rejects_inconsistency_and_overflow() {
        let mut frontier = Vec::new();
        // count says 1 leaf but the frontier is empty
        assert!(!frontier_append(&mut frontier, 1, &h(0)));
        assert_eq!(frontier_root(&frontier, 1), None);
        assert!(!frontier_append(&mut frontier, u32::MAX, &h(0)));
        assert!(frontier.is_empty());
    }

    #[test]
    fn api_types_serialize_with_named_fields() {
        let info = ContributionInfo::<u64, u128, u32> {
            id: 7,
            datanet: 1,
            index: 0,
            contributor: 42,
            content_hash: h(5),
            size: 3,
            block: 9,
            extrinsic_index: 1,
            status: ContributionStatus::Accepted,
            deposit: u128::MAX,
            accepted_index: Some(0),
            rejection_reason: None,
        };
        let json = serde_json_like(&info);
        assert!(json.contains("\"contentHash\":\"0x"));
        assert!(json.contains(&format!("\"deposit\":\"{}\"", u128::MAX)));
        assert!(json.contains("\"status\":\"Accepted\""));
    }

    #[test]
    fn datanet_info_json_has_ss58_owner_and_string_balances() {
        let owner = sp_runtime::AccountId32::new([1u8; 32]);
        let info = DatanetInfo::<sp_runtime::AccountId32, u128, u32> {
            id: 3,
            owner: owner.clone(),
            creator: owner.clone(),
            creation_deposit: 10u128.pow(18),
            name: "medical".into(),
            description: "notes".into(),
            license: "MIT".into(),
            tags: vec!["health".into()],
            admission: Admission::AllowList,
            curation: CurationPolicy::Curators,
            deposit_policy: DepositPolicy::ForfeitOnReject,
            deposit_per_byte: 1_000_000_000_000,
            status: DatanetStatus::Open,
            curators: vec![owner.clone()],
            created_at: 12,
            contribution_count: 2,
            pending_count: 1,
            accepted_count: 1,
            accepted_bytes: 42,
            latest_version: 1,
        };
        let json = serde_json_like(&info);
        assert!(json.contains(&format!("\"owner\":\"{owner}\"")), "{json}");
        assert!(
            json.contains("\"creationDeposit\":\"1000000000000000000\""),
            "{json}"
        );
        assert!(
            json.contains("\"depositPerByte\":\"1000000000000\""),
            "{json}"
        );
        assert!(json.contains("\"admission\":\"AllowList\""), "{json}");
        assert!(json.contains("\"tags\":[\"health\"]"), "{json}");
        let back: DatanetInfo<sp_runtime::AccountId32, u128, u32> =
            serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, info);
        let v = VersionInfo {
            datanet: 1,
            version: 2,
            contribution_count: 3,
            total_bytes: 4,
            merkle_root: h(1),
            published_at: 5u32,
        };
        let json = serde_json_like(&v);
        assert!(json.contains("\"merkleRoot\":\"0x"), "{json}");
        assert!(json.contains("\"contributionCount\":3"), "{json}");
    }

    fn serde_json_like<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).expect("serializable")
    }
}
